export type { StepFunction } from './dbop-runner.js';
export { DbOpRunner } from './dbop-runner.js';
export { isEscalated } from './runner-classifier.js';
export type { DbOpRunnerOptions, RunOptions, TransactionOptions } from './runner-options.js';
export type { TransactionBeginOptions } from './transaction.js';
export { Transaction } from './transaction.js';
