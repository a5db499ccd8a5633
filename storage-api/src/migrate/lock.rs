//! The migration lock around every command that writes: taken before, released after,
//! whatever the command's outcome.

use super::driver::MigrationDriver;
use super::error::MigrateError;
use super::up_down::UpOptions;

/// Takes the migration lock when `options.lock` is set, waiting up to
/// `options.lock_timeout`.
pub(super) async fn acquire(
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
) -> Result<(), MigrateError> {
    if options.lock && !driver.lock(options.lock_timeout).await? {
        return Err(MigrateError::LockTimeout(options.lock_timeout));
    }
    Ok(())
}

/// Releases the lock taken by [`acquire`] and returns `result`. A failure to release
/// is reported only when the command itself succeeded: the command's own error is the
/// one the caller needs.
pub(super) async fn release<T, E: From<MigrateError>>(
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
    result: Result<T, E>,
) -> Result<T, E> {
    if options.lock {
        let unlocked = driver.unlock().await;
        if result.is_ok() {
            unlocked.map_err(|e| E::from(MigrateError::Storage(e)))?;
        }
    }
    result
}
