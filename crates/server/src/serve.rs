//! `bulwark serve`: recover the engine, start the pipeline and the projector, serve the public
//! and the admin listeners, and shut down cleanly (final snapshot) on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderValue, header};
use bulwark_accounts::crypto::MasterKey;
use bulwark_api::AppState;
use bulwark_engine::Engine;
use bulwark_journal::{FsyncPolicy, JournalOptions};
use bulwark_sequencer::{Catalog, Sequencer, SequencerOptions};
use bulwark_store::Store;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::{Config, FsyncMode};
use crate::data_dir::DataDir;
use bulwark_admin::AdminState;
use bulwark_operator::genesis;

/// Test-only: a file holding a millisecond offset added to the account API's clock, so
/// end-to-end tests can let lockouts and codes expire without sleeping.
pub const TEST_CLOCK_ENV: &str = "BULWARK_TEST_CLOCK_FILE";

/// Event batches the projector may lag behind before the pipeline waits for it.
pub const PROJECTOR_QUEUE_BATCHES_MAX: usize = 4_096;

pub fn journal_options(config: &Config) -> JournalOptions {
    JournalOptions {
        segment_bytes: config.journal_segment_bytes,
        fsync: match config.fsync {
            FsyncMode::Always => FsyncPolicy::Always,
            FsyncMode::NeverUnsafe => FsyncPolicy::Never,
        },
        ..JournalOptions::default()
    }
}

/// A started exchange: the engine, the projector and both routers, not yet bound to sockets
/// (so tests can drive the routers directly). [`Running::stop`] ends it cleanly.
pub struct Running {
    /// Web pages, the account API and the BitMart API.
    pub public: Router,
    /// The operator API (token in `DATA/admin.token`).
    pub admin: Router,
    /// The operator token.
    pub admin_token: Arc<String>,
    sequencer: Sequencer,
    projector: std::thread::JoinHandle<()>,
    store: Store,
    /// The operations service (the demo market maker provisions its users through it).
    operator: bulwark_operator::Operator,
}

impl Running {
    /// The sequencer, for benchmarks that drive the engine directly while clients watch.
    pub fn sequencer(&self) -> bulwark_sequencer::SequencerHandle {
        self.sequencer.handle()
    }

    /// Writes a final snapshot, lets the projector drain and closes the store.
    pub async fn stop(self) -> anyhow::Result<()> {
        let sequencer = self.sequencer;
        tokio::task::spawn_blocking(move || sequencer.shutdown()).await?;
        let _ = self.projector.join();
        self.store.close().await;
        Ok(())
    }
}

/// Recovers the engine, starts the pipeline and the projector, applies the genesis markets on a
/// new data directory and builds both routers.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    if config.fsync == FsyncMode::NeverUnsafe {
        tracing::warn!(
            "fsync = never-unsafe: acknowledged orders can be LOST on a crash; never use this in production"
        );
    }
    let data = DataDir::open(&config.data_dir)?;
    // Regions, GeoIP file and KYC limits first: a bad file stops the start before any work.
    let access = Arc::new(config.access().context("region and KYC settings")?);
    let master_key_bytes = data.master_key()?;
    let master_key = Arc::new(MasterKey::from_bytes(&master_key_bytes).context("master key")?);
    let token = Arc::new(data.admin_token()?);
    let store = Store::connect(&config.database_url())
        .await
        .context("opening the SQL store")?;
    let projected_seq = store.projected_seq().await?;
    let recovered = recover(config, &data, store.clone(), projected_seq).await?;
    let (events_tx, events_rx) = std::sync::mpsc::sync_channel(PROJECTOR_QUEUE_BATCHES_MAX);
    let mut options = SequencerOptions::new(data.snapshots());
    options.snapshot_every_commands = config.snapshot_every_commands;
    options.order_queue_max = config.order_queue_max;
    // Room for two segments, so the roll-over to a new one always completes.
    options.journal_space = Some((
        data.journal(),
        config.journal_segment_bytes.saturating_mul(2),
    ));
    let last_seq = recovered.engine.last_seq();
    let sequencer = Sequencer::start(
        recovered.engine,
        recovered.journal,
        options,
        vec![events_tx],
    )?;
    let handle = sequencer.handle();
    let (projected_tx, projected_rx) = tokio::sync::watch::channel(last_seq);
    let runtime = tokio::runtime::Handle::current();
    let projector_store = store.clone();
    let projector_handle = handle.clone();
    let (feed_tx, feed_rx) = tokio::sync::mpsc::unbounded_channel();
    let projector = std::thread::Builder::new()
        .name("projector".into())
        .spawn(move || {
            bulwark_projector::run(
                runtime,
                projector_store,
                projector_handle,
                events_rx,
                projected_tx,
                vec![feed_tx],
            )
        })?;
    let v1 = bulwark_api::v1::V1State::start(
        store.clone(),
        Arc::clone(&master_key),
        &master_key_bytes,
        config.notifier(data.root.join("outbox")),
        config.public_url(),
        std::env::var_os(TEST_CLOCK_ENV).map(std::path::PathBuf::from),
    )
    .await
    .context("starting the account API")?;
    v1.accounts.attach_bus(Arc::new(handle.clone()));
    let metrics = crate::metrics::start(handle.clone(), v1.accounts.hash_pool.clone());
    v1.accounts.attach_access(Arc::clone(&access));
    let app = AppState::new(
        handle.clone(),
        store.clone(),
        master_key,
        projected_rx,
        access,
        Arc::clone(&v1.accounts.clock),
    );
    apply_genesis(&app).await?;
    let limit = bulwark_api::rate_limit::IpRateLimit::new(
        config.rate_limit_per_ip,
        config.rate_limit_per_ip.saturating_mul(2),
    );
    let feed = bulwark_api::ws::feed::Feed::start(app.clone(), feed_rx);
    let groups = bulwark_api::group_limits::GroupLimits::new(config.api_rate_limit_scale)
        .with_order_inflight_max(config.order_inflight_max);
    let custody = bulwark_custody::Custody::open(
        &data.root.join("custody"),
        config.custody.clone(),
        app.clone(),
        v1.clone(),
    )
    .context("opening custody")?;
    custody.spawn_workers();
    let interval = (config.report_interval_hours > 0).then(|| {
        std::time::Duration::from_secs(config.report_interval_hours.saturating_mul(3_600))
    });
    let safeguard = bulwark_safeguard::Safeguard::open(
        &data.root.join("transparency"),
        app.clone(),
        custody.clone(),
        v1.clone(),
        interval,
        config.insurer.clone(),
    )
    .await
    .context("opening the Safeguard service")?;
    safeguard.spawn_worker();
    let public = public_router(
        app.clone(),
        custody.clone(),
        safeguard.clone(),
        limit,
        groups,
        v1,
        feed,
    );
    let operator = bulwark_operator::Operator::new(app);
    let admin = bulwark_admin::router(AdminState {
        operator: operator.clone(),
        custody: custody.clone(),
        safeguard,
        token: Arc::clone(&token),
        metrics,
    })
    .layer(axum::middleware::from_fn(crate::request_log::tag));
    Ok(Running {
        public,
        admin,
        admin_token: token,
        sequencer,
        projector,
        store,
        operator,
    })
}

/// `bulwark serve`: [`start`], then serve both listeners until SIGINT/SIGTERM, then stop.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Certificate files that do not work stop the start before anything else happens.
    let certificates = match config.tls() {
        Some((cert, key)) => {
            Some(crate::tls::Certificates::load(cert, key).context("loading the TLS certificate")?)
        }
        None => None,
    };
    // SIGHUP reloads the certificate; without TLS it must not end the process either.
    reload_on_hangup(certificates.clone())?;
    let running = start(&config).await?;
    let public_listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding {}", config.http_addr))?;
    let admin_listener = tokio::net::TcpListener::bind(config.admin_addr)
        .await
        .with_context(|| format!("binding {}", config.admin_addr))?;
    let public_addr = public_listener.local_addr()?;
    println!(
        "bulwark: public API on {}://{} , admin API on http://{} , data in {}",
        if certificates.is_some() {
            "https"
        } else {
            "http"
        },
        public_addr,
        admin_listener.local_addr()?,
        config.data_dir.display()
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let demo = config.demo.then(|| {
        let base = format!("http://{public_addr}");
        tokio::spawn(crate::demo::run(
            running.operator.clone(),
            base,
            stop_rx.clone(),
        ))
    });
    let serve_public: std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>> =
        match certificates {
            Some(certificates) => {
                let listener = crate::tls::TlsListener::start(public_listener, certificates)?;
                // Browsers that reached the site over TLS keep to it for a year.
                let router = running
                    .public
                    .clone()
                    .layer(SetResponseHeaderLayer::overriding(
                        header::STRICT_TRANSPORT_SECURITY,
                        HeaderValue::from_static("max-age=31536000"),
                    ));
                Box::pin(serve_until(listener, router, stop_rx.clone()))
            }
            None => Box::pin(serve_until(
                public_listener,
                running.public.clone(),
                stop_rx.clone(),
            )),
        };
    let serve_admin = serve_until(admin_listener, running.admin.clone(), stop_rx);
    let stopper = tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let (a, b) = tokio::join!(serve_public, serve_admin);
    a?;
    b?;
    if let Some(demo) = demo {
        match demo.await {
            Ok(Err(error)) => tracing::error!(%error, "demo market maker stopped"),
            Err(error) => tracing::error!(%error, "demo market maker failed"),
            Ok(Ok(())) => {}
        }
    }
    stopper.abort();
    tracing::info!("stopping: writing a final snapshot");
    running.stop().await
}

async fn recover(
    config: &Config,
    data: &DataDir,
    store: Store,
    projected_seq: u64,
) -> anyhow::Result<bulwark_sequencer::Recovered> {
    let journal_dir = data.journal();
    let snapshot_dir = data.snapshots();
    let options = journal_options(config);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut failure: Option<bulwark_store::StoreError> = None;
        let mut catch_up = |engine: &Engine, batch: bulwark_sequencer::EventBatch| {
            if failure.is_some() {
                return;
            }
            let catalog = Catalog::from_engine(engine);
            if let Err(error) = runtime.block_on(bulwark_projector::project(
                &store,
                &catalog,
                &[Arc::new(batch)],
            )) {
                failure = Some(error);
            }
        };
        let recovered = bulwark_sequencer::recover(
            &journal_dir,
            &snapshot_dir,
            options,
            projected_seq,
            &mut catch_up,
        );
        if let Some(error) = failure {
            return Err(anyhow::Error::new(error).context("projecting replayed events"));
        }
        recovered.context("recovering the engine from snapshot and journal")
    })
    .await?
}

/// Creates the default assets and markets on the first start of a new data directory.
async fn apply_genesis(app: &AppState) -> anyhow::Result<()> {
    if !app.sequencer.catalog().assets.is_empty() {
        return Ok(());
    }
    for (id, command) in genesis::default_commands() {
        let receipt = app.sequencer.submit(id, command).await?;
        if let Err(reject) = receipt.outcome {
            anyhow::bail!("genesis command rejected: {reject}");
        }
        app.wait_projected(receipt.seq).await;
    }
    tracing::info!("created default assets and markets");
    Ok(())
}

fn public_router(
    app: AppState,
    custody: bulwark_custody::Custody,
    safeguard: bulwark_safeguard::Safeguard,
    limit: bulwark_api::rate_limit::IpRateLimit,
    groups: bulwark_api::group_limits::GroupLimits,
    v1: bulwark_api::v1::V1State,
    feed: bulwark_api::ws::feed::Feed,
) -> Router {
    // The pages set their own headers (a CSP that allows the stylesheet), so they are merged
    // outside the API-wide header layers below.
    let pages = bulwark_web::router(v1.clone())
        .merge(bulwark_web::trading_router(v1.clone(), app.clone()))
        .merge(bulwark_web::funding_router(
            v1.clone(),
            app.clone(),
            custody.clone(),
        ))
        .merge(bulwark_web::transparency_router(
            v1.clone(),
            safeguard.clone(),
        ))
        .layer(axum::middleware::from_fn_with_state(
            safeguard.clone(),
            bulwark_web::incident_banner,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limit.clone(),
            bulwark_api::rate_limit::limit_by_ip,
        ));
    let extra_v1 = bulwark_api::v1::withdrawals_admin::routes()
        .layer(axum::Extension(custody.clone()))
        .merge(
            bulwark_api::v1::transparency::routes()
                .merge(bulwark_api::v1::claims::routes())
                .layer(axum::Extension(safeguard.clone())),
        );
    let accounts = bulwark_api::v1::router_with(v1, extra_v1).layer(
        axum::middleware::from_fn_with_state(limit.clone(), bulwark_api::rate_limit::limit_by_ip),
    );
    let health = Router::new()
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/readyz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ready"})) }),
        );
    let stream = bulwark_api::ws::router(feed).layer(axum::middleware::from_fn_with_state(
        limit.clone(),
        bulwark_api::rate_limit::limit_by_ip,
    ));
    let transparency = bulwark_api::transparency::router(safeguard).layer(
        axum::middleware::from_fn_with_state(limit.clone(), bulwark_api::rate_limit::limit_by_ip),
    );
    health
        .merge(accounts)
        .merge(transparency)
        .merge(stream)
        .merge(bulwark_api::router(app, custody, limit, groups))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .merge(pages)
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        .layer(axum::middleware::from_fn(crate::request_log::tag))
}

async fn serve_until<L>(
    listener: L,
    router: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    use axum::serve::ListenerExt;
    // `tap_io` gives any listener with socket addresses the `ConnectInfo<SocketAddr>` the
    // handlers read (rate limits, login activity).
    axum::serve(
        listener.tap_io(|_| {}),
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await
    .context("serving HTTP")
}

/// Reads the certificate files again on every SIGHUP, keeping the old ones when the new do not
/// work; without TLS a SIGHUP is only logged.
fn reload_on_hangup(certificates: Option<Arc<crate::tls::Certificates>>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(certificates) = &certificates else {
                tracing::info!("SIGHUP: nothing to reload (TLS is off)");
                continue;
            };
            match certificates.reload() {
                Ok(()) => tracing::info!("tls: certificate reloaded (SIGHUP)"),
                Err(error) => {
                    tracing::error!(%error, "tls: reload failed; the previous certificate stays")
                }
            }
        }
    });
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
}
