export { countDbopErrors, type LabelCounter } from './count-errors.js';
export { type DbopInstrumentation, instrumentDbop } from './instrument-dbop.js';
export type { InstrumentDbopOptions } from './otel-options.js';
