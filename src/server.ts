// Process entry of `npm start` (and the container image): the same as `pullthrough serve`, whose code
// lives in src/cli/serve-command.ts. Takes serve's options (--config FILE).

import { main } from './cli/main.ts';

main(['serve', ...process.argv.slice(2)]);
