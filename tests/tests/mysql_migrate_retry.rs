//! A migration statement that loses a lock conflict is run again, not reported: on a
//! Galera node any statement can be aborted by the cluster's other traffic (a
//! certification conflict or a replicated transaction, both error 1213), and
//! `migrate up` failed there with "retryable conflict". Here a real InnoDB deadlock
//! is made on the driver's own history write, with the driver's statement as the
//! victim, and `migrate up` must still apply every migration.

use std::time::{Duration, Instant};
use storage_api::OpenOptions;
use storage_api::migrate::{UpOptions, up};
use storage_mysql::test_support::RawClient;
use storage_tests::backends::mysql::{database_uri, in_fresh_database};

/// Opens a single-connection raw client on `db` (one connection, so a transaction
/// begun by one call is the one the next call runs in).
async fn one_connection(db: &str) -> RawClient {
    RawClient::connect(&database_uri(db), 1)
        .await
        .expect("raw connection")
}

/// Waits until the trigger's `UPDATE probe` (run by the driver's history write) in
/// database `db` waits for a row lock.
async fn wait_for_lock_wait(admin: &RawClient, db: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = admin
            .query(&format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE DB = '{db}' AND INFO LIKE 'UPDATE probe%' AND TIME_MS > 200"
            ))
            .await
            .expect("processlist");
        if rows[0][0].as_deref() == Some("1") {
            return;
        }
        if Instant::now() >= deadline {
            let seen = admin
                .query(&format!(
                    "SELECT p.ID, p.COMMAND, p.STATE, p.INFO, t.trx_state, t.trx_mysql_thread_id FROM information_schema.PROCESSLIST p \
                     LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.DB = '{db}'"
                ))
                .await;
            panic!("the driver's history write never waited for the held row lock: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_migration_statement_that_loses_a_deadlock_is_run_again() {
    in_fresh_database(|db| async move {
        let storage = storage_api::open(&database_uri(&db), OpenOptions::default())
            .await
            .expect("open");
        let options = UpOptions {
            to: Some(1),
            ..UpOptions::default()
        };
        let mut driver = storage.migration_driver().await.expect("driver");
        up(&mut *driver, &options, &mut |_| {})
            .await
            .expect("migrate to version 1");
        drop(driver);

        // Every history row the driver inserts now also updates probe row 1.
        let setup = one_connection(&db).await;
        for sql in [
            "CREATE TABLE probe (id INT PRIMARY KEY, n INT NOT NULL)",
            "INSERT INTO probe VALUES (1, 0)",
            "CREATE TABLE ballast (id INT PRIMARY KEY)",
            "CREATE TRIGGER history_probe AFTER INSERT ON schema_migrations \
             FOR EACH ROW UPDATE probe SET n = n + 1 WHERE id = 1",
        ] {
            setup
                .execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }

        // The other transaction: heavy (1,000 rows written), so InnoDB picks the
        // driver's one-row statement as the deadlock's victim; it holds probe row 1.
        let other = one_connection(&db).await;
        for sql in [
            "BEGIN",
            "INSERT INTO ballast WITH RECURSIVE s(n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000) SELECT n FROM s",
            "SELECT n FROM probe WHERE id = 1 FOR UPDATE",
        ] {
            other
                .execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }

        // The driver writes the `started` row of version 2 (locking it), then its
        // trigger waits for probe row 1.
        let migrating = {
            let storage = storage.clone();
            tokio::spawn(async move { storage_api::migrate_up(&*storage).await })
        };
        wait_for_lock_wait(&setup, &db).await;

        // Closing the cycle: the other transaction asks for the row the driver's
        // statement inserted. InnoDB rolls the lighter one back (the driver's
        // statement, error 1213); this one then gets its lock and goes on.
        let locked = other
            .query("SELECT version FROM schema_migrations WHERE version = 2 FOR UPDATE")
            .await;
        assert!(
            locked.is_ok(),
            "the other transaction was the deadlock's victim, not the driver: {locked:?}"
        );
        let deadlocks = setup
            .query("SHOW ENGINE INNODB STATUS")
            .await
            .expect("innodb status");
        let status = deadlocks[0][2].clone().unwrap_or_default();
        assert!(
            status.contains("LATEST DETECTED DEADLOCK") && status.contains("schema_migrations"),
            "no deadlock on the history table was detected"
        );
        other.execute("ROLLBACK").await.expect("rollback");

        let report = migrating
            .await
            .expect("migration task")
            .expect("migrate up after its history write lost a deadlock");
        assert!(
            report.applied.iter().any(|s| s.version == 2),
            "version 2 was not applied: {:?}",
            report.applied.iter().map(|s| s.version).collect::<Vec<_>>()
        );
        let pending = setup
            .query("SELECT COUNT(*) FROM schema_migrations WHERE state <> 'applied'")
            .await
            .expect("history");
        assert_eq!(
            pending[0][0].as_deref(),
            Some("0"),
            "a migration is not applied"
        );
        setup.close().await;
        other.close().await;
        storage.close().await;
    })
    .await;
}
