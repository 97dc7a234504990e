// Preloaded (NODE_OPTIONS --require) by scripts/mutation.mjs. Stryker's mocha runner 10.1 requires
// `mocha/lib/cli/run-helpers` and `mocha/lib/cli/options` without an extension, but mocha 12.0 ships
// them as `.cjs` files, which Node's resolution does not try. This retries such a request with `.cjs`.
const Module = require('module');

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  try {
    return resolve.call(this, request, ...rest);
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND' && /[\\/]mocha[\\/]lib[\\/]cli[\\/][\w-]+$/.test(request)) {
      return resolve.call(this, request + '.cjs', ...rest);
    }
    throw error;
  }
};
