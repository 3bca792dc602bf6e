import { describeIfPostgres, postgresUrl } from '../../support/servers.js';
import { pgContractFixture } from './postgres-fixture.js';
import { sessionContract } from './session-contract.js';

describeIfPostgres('pgSession contract (node-postgres Client)', () => {
  sessionContract(() => pgContractFixture(postgresUrl()));
});
