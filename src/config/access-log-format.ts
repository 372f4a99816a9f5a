/** Gunicorn's default access_log_format, followed by the request time in seconds (`%(L)s`). */
export const DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s';
