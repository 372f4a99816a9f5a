// The config file docs name without showing it (`tsgi -c tsgi.config.mjs ...`); a doc that shows
// one (README.md) replaces this one in its sandbox. The recipes signal the master through tsgi.pid.
export default {
  pid: 'tsgi.pid',
};
