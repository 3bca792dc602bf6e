export { driverError, type FaultContext } from './driver-errors.js';
export {
  FaultInjector,
  type FaultInjectorOptions,
  type FaultRule,
  type InjectedFault,
} from './fault-injector.js';
export { FaultProxy, type FaultProxyOptions, type ProxyToxics, startFaultProxy } from './fault-proxy.js';
export { driverMeets, type Fault, type FaultDriver, faultDrivers, faults } from './faults.js';
export { injectDatabaseFaults } from './inject-database.js';
export {
  type DriverFaultOptions,
  injectConnectFaults,
  injectDriverFaults,
  injectPoolFaults,
} from './inject-driver.js';
export { injectSessionFaults, injectSourceFaults, type SessionFaultOptions } from './inject-session.js';
