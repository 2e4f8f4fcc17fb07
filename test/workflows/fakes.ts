/** The typed fake activities live beside the worker, for `firebreak runbooks test` too. */
export * from '../../worker/fake-activities';
