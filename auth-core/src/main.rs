//! `auth-core`: serves the SuperTokens core API on the storage chosen by
//! `POSTGRESQL_CONNECTION_URI`, `MYSQL_CONNECTION_URI` or the SQLite default.

use auth_core::{Config, Core, http};
use clap::Parser;
use std::process::ExitCode;

/// A SuperTokens-compatible core (CDI 5.4 subset for supertokens-node 24).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 3567)]
    port: u16,
    /// Do not apply pending migrations at start-up.
    #[arg(long, env = "AUTH_CORE_SKIP_MIGRATIONS")]
    skip_migrations: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "auth-core stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let config = Config::from_env()?;
    let storage = storage_api::open_from_env(Default::default())
        .await
        .map_err(|e| format!("opening the storage: {e}"))?;
    tracing::info!(backend = storage.backend_name(), "storage opened");
    if !args.skip_migrations {
        let report = storage_api::migrate_up(&*storage)
            .await
            .map_err(|e| format!("migrations: {e}"))?;
        tracing::info!(?report, "migrations applied");
    }
    let core = Core::new(storage.clone(), config);
    core.init().await.map_err(|e| format!("start-up: {e}"))?;
    let addr = format!("{}:{}", args.host, args.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("binding {addr}: {e}"))?;
    tracing::info!(%addr, "auth-core listening");
    axum::serve(listener, http::router(core))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server: {e}"))?;
    storage.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (how containers stop the core).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
