// `npm run demo`: the bank-transfer demo on an embedded SQLite file, exactly as `dbop demo` runs it.
// Extra arguments pass through: `npm run demo -- --no-retry`, `npm run demo -- --url postgres://...`.
import { main } from '../src/cli/main.js';

process.exitCode = await main(['demo', ...process.argv.slice(2)]);
