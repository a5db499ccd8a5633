//! Transactions (contract 4): commit and `Ok`, roll back and `Err`, commit and `Err`,
//! retries on `Retryable`, isolation levels, and the explicit begin/commit/rollback.

use super::fixtures::*;
use crate::harness::Ctx;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use storage_api::*;

fn retryable() -> StorageError {
    StorageError::Retryable {
        message: "forced by the test".into(),
        source: None,
    }
}

/// `Ok` commits every write and returns the value.
pub async fn tx_commit_and_ok(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, "c@example.com", 1).await;
    let (tc, id) = (t.clone(), u.id.clone());
    let v = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, id) = (tc.clone(), id.clone());
        Box::pin(async move {
            tx.kv_set(&t, "a", &kv("1", 1)).await?;
            tx.update_password_hash(&t.app, &id, &Secret::new("committed"))
                .await?;
            Ok::<_, TxError<()>>(42)
        })
    })
    .await
    .unwrap();
    assert_eq!(v, 42);
    assert_eq!(ctx.storage.kv_get(&t, "a").await.unwrap(), Some(kv("1", 1)));
    let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
    assert_eq!(
        got.login_methods[0]
            .password_hash
            .as_ref()
            .map(Secret::expose),
        Some("committed")
    );
}

/// `TxError::Rollback` leaves nothing written and returns the caller's error.
pub async fn tx_rollback_and_err(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, Some("r@example.com"), None, 1).await;
    let (tc, dh) = (t.clone(), d.device_id_hash.clone());
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, dh) = (tc.clone(), dh.clone());
        Box::pin(async move {
            tx.kv_set(&t, "a", &kv("1", 1)).await?;
            tx.increment_failed_attempts(&t, &dh).await?;
            tx.set_email_verified(&t.app, "u", "r@example.com", true)
                .await?;
            Err::<(), _>(TxError::Rollback("nope".to_owned()))
        })
    })
    .await;
    match r {
        Err(TxError::Rollback(msg)) => assert_eq!(msg, "nope"),
        other => panic!("expected Rollback, got {other:?}"),
    }
    assert_eq!(
        ctx.storage.kv_get(&t, "a").await.unwrap(),
        None,
        "rolled-back kv write visible"
    );
    assert_eq!(
        ctx.storage
            .get_device(&t, &d.device_id_hash)
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        0
    );
    assert!(
        !ctx.storage
            .is_email_verified(&t.app, "u", "r@example.com")
            .await
            .unwrap()
    );
}

/// `TxError::Commit` keeps the writes and still returns the caller's error.
pub async fn tx_commit_and_err(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, Some("ce@example.com"), None, 1).await;
    let (tc, dh) = (t.clone(), d.device_id_hash.clone());
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, dh) = (tc.clone(), dh.clone());
        Box::pin(async move {
            tx.increment_failed_attempts(&t, &dh).await?;
            tx.kv_set(&t, "attempt", &kv("recorded", 5)).await?;
            Err::<(), _>(TxError::Commit("wrong code"))
        })
    })
    .await;
    assert!(matches!(r, Err(TxError::Commit("wrong code"))), "got {r:?}");
    assert_eq!(
        ctx.storage
            .get_device(&t, &d.device_id_hash)
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        1
    );
    assert_eq!(
        ctx.storage.kv_get(&t, "attempt").await.unwrap(),
        Some(kv("recorded", 5))
    );
}

/// A storage error from inside the closure rolls back the earlier writes.
pub async fn tx_storage_error_rolls_back(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let tc = t.clone();
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let t = tc.clone();
        Box::pin(async move {
            tx.kv_set(&t, "before", &kv("x", 1)).await?;
            tx.kv_set(&tenant("public", "nosuch"), "k", &kv("y", 1))
                .await?;
            Ok::<_, TxError<()>>(())
        })
    })
    .await;
    assert!(
        matches!(
            r,
            Err(TxError::Storage(StorageError::TenantOrAppNotFound(_)))
        ),
        "got {r:?}"
    );
    assert_eq!(
        ctx.storage.kv_get(&t, "before").await.unwrap(),
        None,
        "write before the error kept"
    );
}

/// A `Retryable` error reruns the whole closure; the first attempt's writes are gone.
pub async fn tx_retry_on_retryable(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let attempts = Arc::new(AtomicU32::new(0));
    let (tc, ac) = (t.clone(), attempts.clone());
    let opts = TxOptions {
        base_delay: Duration::from_millis(1),
        ..TxOptions::default()
    };
    let seen = run_transaction(&*ctx.storage, &opts, move |tx| {
        let (t, attempts) = (tc.clone(), ac.clone());
        Box::pin(async move {
            let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let seen = tx.kv_get_for_update(&t, "first-attempt").await?;
            if n == 1 {
                tx.kv_set(&t, "first-attempt", &kv("written", 1)).await?;
                return Err(TxError::Storage(retryable()));
            }
            tx.kv_set(&t, "second-attempt", &kv("written", 2)).await?;
            Ok::<_, TxError<()>>(seen)
        })
    })
    .await
    .unwrap();
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        2,
        "the closure should run exactly twice"
    );
    assert_eq!(
        seen, None,
        "the first attempt's write was visible to the second"
    );
    assert_eq!(ctx.storage.kv_get(&t, "first-attempt").await.unwrap(), None);
    assert_eq!(
        ctx.storage.kv_get(&t, "second-attempt").await.unwrap(),
        Some(kv("written", 2))
    );
}

/// Retries are bounded by `max_attempts`; the last `Retryable` error is returned.
pub async fn tx_retry_is_bounded(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let attempts = Arc::new(AtomicU32::new(0));
    let (tc, ac) = (t.clone(), attempts.clone());
    let opts = TxOptions {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..TxOptions::default()
    };
    let r = run_transaction(&*ctx.storage, &opts, move |tx| {
        let (t, attempts) = (tc.clone(), ac.clone());
        Box::pin(async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            tx.kv_set(&t, "never", &kv("x", 1)).await?;
            Err::<(), _>(TxError::<()>::Storage(retryable()))
        })
    })
    .await;
    assert!(
        matches!(r, Err(TxError::Storage(ref e)) if e.is_retryable()),
        "got {r:?}"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(ctx.storage.kv_get(&t, "never").await.unwrap(), None);
    // Rollback and Commit errors are never retried.
    let attempts = Arc::new(AtomicU32::new(0));
    let ac = attempts.clone();
    let r = run_transaction(&*ctx.storage, &opts, move |_tx| {
        let attempts = ac.clone();
        Box::pin(async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(TxError::Commit(()))
        })
    })
    .await;
    assert!(matches!(r, Err(TxError::Commit(()))));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

/// The level the server itself reports for the transaction running a write, for
/// every [`Isolation`]: `None` on SQLite (one level, see [`tx_isolation_levels`]).
/// PostgreSQL: `current_setting('transaction_isolation')`; MariaDB/MySQL: the
/// transaction's row of `information_schema.INNODB_TRX` (the session variable keeps
/// the session's level, not the one `SET TRANSACTION` gives the next transaction).
/// Both are read by a `BEFORE INSERT OR UPDATE` trigger on `key_value` that the test
/// creates, which writes the level into the value of every `iso-*` row: the level
/// stored is the one of the transaction that wrote the row, on the node that ran it.
async fn install_isolation_probe(ctx: &Ctx) -> bool {
    let kv = ctx.table("key_value");
    match ctx.backend {
        "postgresql" => {
            let f = ctx.table("iso_probe");
            ctx.raw
                .execute(&format!(
                    "CREATE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                     IF NEW.name LIKE 'iso-%' THEN \
                     NEW.value := upper(current_setting('transaction_isolation')); END IF; \
                     RETURN NEW; END $$; \
                     CREATE TRIGGER {f} BEFORE INSERT OR UPDATE ON {kv} \
                     FOR EACH ROW EXECUTE FUNCTION {f}()"
                ))
                .await;
            true
        }
        "mysql" => {
            // INNODB_TRX is a cache refreshed at most every 100 ms: a transaction
            // younger than the last refresh is not in it yet (`?`, written again).
            for (when, name) in [("INSERT", "iso_probe_i"), ("UPDATE", "iso_probe_u")] {
                ctx.raw
                    .execute(&format!(
                        "CREATE TRIGGER {} BEFORE {when} ON {kv} FOR EACH ROW \
                         SET NEW.value = IF(NEW.name LIKE 'iso-%', COALESCE((\
                         SELECT trx_isolation_level FROM information_schema.INNODB_TRX \
                         WHERE trx_mysql_thread_id = CONNECTION_ID()), '?'), NEW.value)",
                        ctx.table(name)
                    ))
                    .await;
            }
            true
        }
        _ => false,
    }
}

/// Every isolation level runs a read-write transaction, and the server runs it at
/// the level asked for: PostgreSQL and MariaDB/MySQL report, from inside the
/// transaction, READ COMMITTED for `Default` and `ReadCommitted`, REPEATABLE READ and
/// SERIALIZABLE for the others (see [`install_isolation_probe`]). SQLite has one
/// level: every transaction is `BEGIN IMMEDIATE`, serialisable with one writer, so
/// for every level the test checks that a second connection cannot start a write
/// while the transaction is open, before the transaction wrote anything.
pub async fn tx_isolation_levels(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let probe = install_isolation_probe(&ctx).await;
    let sqlite_file = if ctx.backend == "sqlite" {
        ctx.raw
            .query("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .await[0][0]
            .clone()
    } else {
        None
    };
    let mut seen = Vec::new();
    for (i, (isolation, expected)) in [
        (Isolation::Default, "READ COMMITTED"),
        (Isolation::ReadCommitted, "READ COMMITTED"),
        (Isolation::RepeatableRead, "REPEATABLE READ"),
        (Isolation::Serializable, "SERIALIZABLE"),
    ]
    .into_iter()
    .enumerate()
    {
        let opts = TxOptions {
            isolation,
            ..TxOptions::default()
        };
        let tc = t.clone();
        let name = format!("iso-{i}");
        let (nc, file) = (name.clone(), sqlite_file.clone());
        let mysql = ctx.backend == "mysql";
        let level = run_transaction(&*ctx.storage, &opts, move |tx| {
            let (t, name, file) = (tc.clone(), nc.clone(), file.clone());
            Box::pin(async move {
                let before = tx.kv_get_for_update(&t, &name).await?;
                assert!(before.is_none());
                let mut serializable = false;
                if let Some(file) = file {
                    // A second writer cannot begin while this transaction is open, even
                    // before it wrote anything (`BEGIN IMMEDIATE`: one writer from the
                    // start, serialisable).
                    let other = rusqlite::Connection::open(&file).expect("second connection");
                    other.busy_timeout(Duration::ZERO).unwrap();
                    let r = other.execute_batch("BEGIN IMMEDIATE");
                    assert!(
                        matches!(
                            &r,
                            Err(rusqlite::Error::SqliteFailure(e, _))
                                if e.code == rusqlite::ErrorCode::DatabaseBusy
                        ),
                        "{isolation:?}: a second connection began a write inside the \
                         transaction: {r:?}"
                    );
                    serializable = true;
                }
                if mysql {
                    // INNODB_TRX is a cache, refreshed on a read at most every 100 ms:
                    // after this pause, the trigger's read either refreshes it or finds
                    // it refreshed since this transaction began, never the row of an
                    // earlier transaction of this connection.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
                let mut level = String::new();
                for attempt in 0..30 {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(120)).await;
                    }
                    tx.kv_set(&t, &name, &kv("v", i as i64)).await?;
                    level = tx.kv_get_for_update(&t, &name).await?.expect("row").value;
                    if level != "?" {
                        break;
                    }
                }
                if serializable {
                    level = "SERIALIZABLE".into();
                }
                Ok::<_, TxError<()>>(level)
            })
        })
        .await
        .unwrap_or_else(|e| panic!("{isolation:?}: {e:?}"));
        let expected = if probe { expected } else { "SERIALIZABLE" };
        assert_eq!(
            level, expected,
            "{isolation:?} on {}: the server ran the transaction at {level}",
            ctx.backend
        );
        seen.push(format!("{isolation:?}={}", level.replace(' ', "_")));
        let stored = ctx.storage.kv_get(&t, &name).await.unwrap().expect("row");
        assert_eq!(stored.created_at, i as i64, "{isolation:?}");
    }
    println!(
        "[conformance] {} tx_isolation_levels: {}",
        ctx.backend,
        seen.join(" ")
    );
}

/// `begin` gives a transaction to commit or roll back by hand; dropping it rolls back.
pub async fn tx_begin_commit_rollback_drop(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut tx = ctx.storage.begin(&TxOptions::default()).await.unwrap();
    tx.kv_set(&t, "rolled", &kv("x", 1)).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(ctx.storage.kv_get(&t, "rolled").await.unwrap(), None);

    let mut tx = ctx.storage.begin(&TxOptions::default()).await.unwrap();
    tx.kv_set(&t, "dropped", &kv("x", 1)).await.unwrap();
    drop(tx);
    assert_eq!(
        ctx.storage.kv_get(&t, "dropped").await.unwrap(),
        None,
        "dropping a transaction committed it"
    );

    let mut tx = ctx.storage.begin(&TxOptions::default()).await.unwrap();
    tx.kv_set(&t, "committed", &kv("x", 1)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        ctx.storage.kv_get(&t, "committed").await.unwrap(),
        Some(kv("x", 1))
    );

    // The storage is still usable for writes after a dropped transaction.
    ctx.storage.kv_set(&t, "after", &kv("y", 2)).await.unwrap();
    assert_eq!(
        ctx.storage.kv_get(&t, "after").await.unwrap(),
        Some(kv("y", 2))
    );
}

/// Uncommitted writes are invisible outside the transaction until it commits.
pub async fn tx_uncommitted_writes_invisible(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut tx = ctx.storage.begin(&TxOptions::default()).await.unwrap();
    tx.kv_set(&t, "pending", &kv("x", 1)).await.unwrap();
    let outside = tokio::time::timeout(Duration::from_secs(10), ctx.storage.kv_get(&t, "pending"))
        .await
        .expect("a plain read blocked behind an open write transaction")
        .unwrap();
    assert_eq!(outside, None, "uncommitted write visible outside");
    tx.commit().await.unwrap();
    assert_eq!(
        ctx.storage.kv_get(&t, "pending").await.unwrap(),
        Some(kv("x", 1))
    );
}

/// Every kind of write of the *(tx)* traits rolls back together.
pub async fn tx_rollback_spans_domains(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, "span@example.com", 1).await;
    let s = create_session(&ctx, &t, &u.id).await;
    let d = create_device(&ctx, &t, Some("span@example.com"), None, 1).await;
    let reset = reset_token(&t.app, &u.id, NOW);
    ctx.storage.add_password_reset_token(&reset).await.unwrap();
    let ev = ev_token(&t, &u.id, "span@example.com", NOW);
    ctx.storage.add_email_verification_token(&ev).await.unwrap();
    let (tc, uid_, h) = (t.clone(), u.id.clone(), s.handle.clone());
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, u, h) = (tc.clone(), uid_.clone(), h.clone());
        Box::pin(async move {
            tx.update_tokens(
                &t,
                &TokenUpdate {
                    handle: &h,
                    new_hash: "new",
                    prev_hash: None,
                    rotated_at: None,
                    expires_at: NOW,
                },
            )
            .await?;
            tx.delete_devices_by_email(&t, "span@example.com").await?;
            tx.delete_password_reset_tokens_of_user(&t.app, &u).await?;
            tx.delete_email_verification_tokens(&t, &u, "span@example.com")
                .await?;
            tx.add_signing_key(&t.app, &signing_key(9)).await?;
            tx.delete_user(&t.app, &u).await?;
            Err::<(), _>(TxError::Rollback(()))
        })
    })
    .await;
    assert!(matches!(r, Err(TxError::Rollback(()))));
    assert_eq!(
        ctx.storage
            .get_session(&t, &s.handle)
            .await
            .unwrap()
            .unwrap()
            .refresh_token_hash,
        s.refresh_token_hash
    );
    assert!(
        ctx.storage
            .get_device(&t, &d.device_id_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        ctx.storage
            .password_reset_tokens_of_user(&t.app, &u.id)
            .await
            .unwrap(),
        vec![reset]
    );
    assert_eq!(
        ctx.storage
            .email_verification_tokens(&t, &u.id, "span@example.com")
            .await
            .unwrap(),
        vec![ev]
    );
    assert!(ctx.storage.signing_keys(&t.app).await.unwrap().is_empty());
    assert!(ctx.storage.get_user(&t.app, &u.id).await.unwrap().is_some());
}
