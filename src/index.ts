export type { AttemptContext, AttemptScope, ScopeFactory } from './core/attempt.js';
export type { Backend, Classification, Classifier, ErrorKind, RetryScope } from './core/classification.js';
export { backends, errorKinds, retryScopes } from './core/classification.js';
export type { DbopErrorOptions } from './core/errors.js';
export { DbopError, isDbopError } from './core/errors.js';

// core (issue 3): execute, policies, budget, errors, diagnostics

// dialects (issue 4): classify, isTransient

// sessions, scopes, timeouts, runner (issue 5)

// database facade (issue 6)
