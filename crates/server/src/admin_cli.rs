//! `bulwark admin …`: the command-line client of the admin API. It reads the operator token from
//! `BULWARK_ADMIN_TOKEN` or `DATA/admin.token`, and prints either a short human line or, with
//! `--json`, the server's JSON answer.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the admin listener.
    #[arg(
        long,
        env = "BULWARK_ADMIN_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub url: String,
    /// Data directory holding `admin.token` (used when BULWARK_ADMIN_TOKEN is not set).
    #[arg(long, env = "BULWARK_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Print the raw JSON answer.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Staff accounts and their roles (support, compliance, security, treasury, admin).
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// User-agreement versions: publishing a new current version asks every user to accept it.
    Agreement {
        #[command(subcommand)]
        command: AgreementCommand,
    },
    /// API keys.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Deposits.
    Deposit {
        #[command(subcommand)]
        command: DepositCommand,
    },
    /// A user's balances as the engine holds them.
    Balances {
        #[arg(long)]
        user: i64,
    },
    /// Halt or resume one market.
    Market {
        /// `halt` or `resume`.
        action: String,
        symbol: String,
    },
    /// Halt all trading.
    Halt,
    /// Resume all trading.
    Resume,
    /// Engine status: sequence numbers, state hash, ledger totals.
    Status,
    /// Compare the SQL read models with the engine.
    Consistency,
    /// Decide a lost-second-factor reset request (audited).
    Twofa {
        /// `approve` or `reject`.
        decision: String,
        /// The request id.
        #[arg(long)]
        id: i64,
        /// The deciding staff member's user id (never the requester).
        #[arg(long)]
        reviewer: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The newest audit-log entries; `audit verify` checks the log's hash chain instead.
    Audit {
        #[command(subcommand)]
        command: Option<AuditCommand>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Incidents: declare with containment, post updates, lift steps, resolve (audited).
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// Set the Safeguard fund's share of every later trading fee, in basis points (audited).
    SafeguardShare {
        #[arg(long)]
        bps: u32,
    },
    /// Publish a new version of the coverage policy's caps (whole USDT), in force for claims
    /// filed from now on; every version stays published.
    SafeguardPolicy {
        #[arg(long)]
        per_user_cap: String,
        #[arg(long)]
        per_incident_cap: String,
        /// Why the terms change (shown with the version).
        #[arg(long)]
        note: String,
    },
    /// Top up the Safeguard fund beyond its fee share: from fee revenue, or treasury coins
    /// already sent into a custody wallet (named by network and txid; custody checks them).
    SafeguardTopUp {
        #[arg(long)]
        asset: String,
        #[arg(long)]
        amount: String,
        /// fee-revenue or treasury.
        #[arg(long, value_parser = ["fee-revenue", "treasury"])]
        from: String,
        #[arg(long)]
        network: Option<String>,
        #[arg(long)]
        txid: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Every top-up of the Safeguard fund.
    SafeguardTopUps,
    /// Transparency reports and users' proofs of inclusion.
    Transparency {
        #[command(subcommand)]
        command: TransparencyCommand,
    },
    /// Drills on a simulated chain: incoming deposits, blocks, theft (audited).
    Chain {
        #[command(subcommand)]
        command: ChainCommand,
    },
    /// Custody wallets with their balances.
    Wallets,
    /// Withdrawals in a state (default: risk_review, waiting for staff approvals).
    Withdrawals {
        #[arg(long)]
        state: Option<String>,
    },
    /// Compare chain balances with custody records and ledger liabilities now; a shortfall
    /// opens an incident that freezes the asset's withdrawals.
    Reconcile,
    /// Reconciliation history and custody incidents.
    Reconciliations,
    /// Operator signing keys for fund movements (M of N).
    OperatorKey {
        #[command(subcommand)]
        command: OperatorKeyCommand,
    },
    /// Fund movements that need operator signatures (cold -> hot refills, large withdrawals).
    Movement {
        #[command(subcommand)]
        command: MovementCommand,
    },
    /// Close a custody incident once the shortfall is made good (audited).
    ResolveIncident {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        resolution: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log's hash chain from its first entry; fails when it is broken.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Declare an incident; affected users are emailed and every page shows a banner.
    Declare {
        /// hot_wallet_breach, cold_wallet_breach, system_failure, data_breach or other.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        title: String,
        /// The first public timeline entry.
        #[arg(long)]
        message: String,
        /// Affected assets, comma-separated.
        #[arg(long, value_delimiter = ',')]
        assets: Vec<String>,
        /// Affected markets, comma-separated.
        #[arg(long, value_delimiter = ',')]
        markets: Vec<String>,
        /// Affected user ids, comma-separated.
        #[arg(long, value_delimiter = ',')]
        users: Vec<i64>,
        /// Halt trading: none, markets (the affected ones) or global.
        #[arg(long, default_value = "none")]
        halt: String,
        /// Freeze withdrawals: none, assets (the affected ones) or global.
        #[arg(long, default_value = "none")]
        freeze: String,
        /// Pause deposit sweeps.
        #[arg(long)]
        pause_sweeps: bool,
        /// A known loss, USER:ASSET:AMOUNT (repeatable): a claim is opened for that user.
        #[arg(long = "loss")]
        losses: Vec<String>,
    },
    /// Post a public timeline update.
    Update {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        message: String,
    },
    /// Lift one containment step: halt, freeze or sweeps.
    Lift {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        step: String,
    },
    /// Resolve: lifts what containment is left and closes the incident.
    Resolve {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        message: String,
    },
    /// Declared incidents with their timelines.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TransparencyCommand {
    /// Publish a signed report now; prints its seq.
    Publish,
    /// Print a user's proof of inclusion for one asset (the newest report unless --seq).
    Proof {
        #[arg(long)]
        user: i64,
        #[arg(long)]
        asset: String,
        #[arg(long)]
        seq: Option<i64>,
    },
    /// Print what the offline seed must sign to prove control of report SEQ's hot and deposit
    /// addresses (JSON, for `bulwark operator sign-control`).
    ControlRequest {
        #[arg(long)]
        seq: i64,
    },
    /// Upload the control proofs `bulwark operator sign-control` wrote; they are checked
    /// against the report before anything is stored.
    Control {
        #[arg(long)]
        seq: i64,
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum OperatorKeyCommand {
    /// Register a public key made with `bulwark operator keygen`.
    Add {
        #[arg(long)]
        name: String,
        /// The public key in hex.
        #[arg(long)]
        public_key: String,
    },
    List,
    /// Revoke a key: its signatures no longer count.
    Revoke {
        #[arg(long)]
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum MovementCommand {
    /// Propose moving coins from the cold wallet to the hot wallet.
    Refill {
        #[arg(long)]
        asset: String,
        #[arg(long)]
        network: Option<String>,
        #[arg(long)]
        amount: String,
    },
    /// Propose paying an approved claim from the Safeguard fund (as the staff action `pay`).
    Payout {
        #[arg(long)]
        claim: i64,
    },
    List,
    /// Print a movement's exact description (to sign offline with `bulwark operator sign`).
    Describe {
        #[arg(long)]
        id: i64,
    },
    /// Hand in a signature made with `bulwark operator sign` (its JSON output file).
    Sign {
        #[arg(long)]
        id: i64,
        /// The JSON file `bulwark operator sign` wrote (public_key and signature).
        #[arg(long)]
        signature_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Someone outside sends coins to an address (mined with the next block).
    Deposit {
        #[arg(long)]
        network: String,
        #[arg(long)]
        address: String,
        #[arg(long)]
        amount: String,
        /// Default: the network's native coin (BTC, ETH; USDT on TRC20).
        #[arg(long)]
        asset: Option<String>,
    },
    /// Mine blocks now.
    Mine {
        #[arg(long)]
        network: String,
        #[arg(long, default_value_t = 1)]
        blocks: u64,
    },
    /// Move coins out of a custody wallet as a thief would (incident drills).
    Steal {
        #[arg(long)]
        network: String,
        /// hot or cold.
        #[arg(long)]
        wallet: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        asset: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints the user id.
    Create {
        #[arg(long)]
        email: String,
        /// KYC level: L0 (deposit and view only, the default), L1 (may trade) or L2.
        #[arg(long, default_value = "L0")]
        kyc_tier: String,
    },
    /// Set a user's KYC level directly (audited); people normally go through KYC review.
    KycTier {
        #[arg(long)]
        user: i64,
        /// L0, L1 or L2.
        #[arg(long)]
        tier: String,
    },
    /// Unfreeze a frozen account after staff review (audited).
    Unfreeze {
        #[arg(long)]
        user: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Give a user a staff role (audited). The account must also turn on TOTP and log in with
    /// it before the staff console lets it in.
    Grant {
        #[arg(long)]
        user: i64,
        /// support, compliance, security, treasury or admin.
        #[arg(long)]
        role: String,
    },
    /// Take a staff role away (audited); with no role left the account is no longer staff.
    Revoke {
        #[arg(long)]
        user: i64,
        #[arg(long)]
        role: String,
    },
    /// Staff accounts with their roles and whether TOTP is on.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AgreementCommand {
    /// Publish a version (current unless --draft); users accept it at their next visit.
    Publish {
        #[arg(long)]
        version: String,
        #[arg(long)]
        draft: bool,
    },
    /// Every published version, oldest first.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create an API key; prints key, secret and memo once.
    Create {
        #[arg(long)]
        user: i64,
        /// Comma list of read, trade, withdraw.
        #[arg(long, default_value = "read,trade")]
        scopes: String,
        /// Comma list of allowed IPs or CIDR ranges.
        #[arg(long, default_value = "")]
        ip: String,
        #[arg(long)]
        memo: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DepositCommand {
    /// Credit a deposit; idempotent by --ref.
    Credit {
        #[arg(long)]
        user: i64,
        #[arg(long)]
        asset: String,
        #[arg(long)]
        amount: String,
        #[arg(long = "ref")]
        reference: String,
    },
}

fn token(args: &AdminArgs) -> anyhow::Result<String> {
    if let Ok(token) = std::env::var("BULWARK_ADMIN_TOKEN")
        && !token.is_empty()
    {
        return Ok(token);
    }
    let path = args.data_dir.join("admin.token");
    let token = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (or set BULWARK_ADMIN_TOKEN)", path.display()))?;
    Ok(token.trim().to_owned())
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let token = token(&args)?;
    let (method, path, mut body) = request_of(&args.command);
    let body_file = match &args.command {
        AdminCommand::Movement {
            command: MovementCommand::Sign { signature_file, .. },
        } => Some((signature_file, "operator sign")),
        AdminCommand::Transparency {
            command: TransparencyCommand::Control { file, .. },
        } => Some((file, "operator sign-control")),
        _ => None,
    };
    if let Some((file, writer)) = body_file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        body = serde_json::from_str(&text)
            .with_context(|| format!("{} is not the JSON `{writer}` writes", file.display()))?;
    }
    let url = format!("{}{}", args.url.trim_end_matches('/'), path);
    let client = reqwest::Client::new();
    let request = match method {
        "GET" => client.get(&url),
        _ => client.post(&url).json(&body),
    };
    let response = request
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let answer: Value = response.json().await.context("reading the answer")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else if status.is_success() {
        println!("{}", human(&args.command, &answer));
    }
    if matches!(
        args.command,
        AdminCommand::Audit {
            command: Some(AuditCommand::Verify),
            ..
        }
    ) && status.is_success()
        && answer.get("intact").and_then(Value::as_bool) != Some(true)
    {
        bail!("the audit log's hash chain is broken");
    }
    if !status.is_success() {
        let message = answer
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("request failed");
        bail!("{status}: {message}");
    }
    Ok(())
}

/// `USER:ASSET:AMOUNT` as the declaration's loss object; what does not split in three is sent
/// as it is, for the server to refuse with its specific code.
fn loss_json(text: &str) -> Value {
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(user), Some(asset), Some(amount)) => {
            json!({"user": user.trim().parse::<i64>().map_or_else(|_| json!(user), |u| json!(u)), "asset": asset, "amount": amount})
        }
        _ => json!(text),
    }
}

fn request_of(command: &AdminCommand) -> (&'static str, String, Value) {
    match command {
        AdminCommand::User {
            command: UserCommand::Create { email, kyc_tier },
        } => (
            "POST",
            "/admin/v1/users".into(),
            json!({"email": email, "kyc_tier": kyc_tier}),
        ),
        AdminCommand::User {
            command: UserCommand::KycTier { user, tier },
        } => (
            "POST",
            format!("/admin/v1/users/{user}/kyc-tier"),
            json!({"tier": tier}),
        ),
        AdminCommand::User {
            command: UserCommand::Unfreeze { user },
        } => (
            "POST",
            format!("/admin/v1/users/{user}/unfreeze"),
            json!({}),
        ),
        AdminCommand::Staff {
            command: StaffCommand::Grant { user, role },
        } => (
            "POST",
            "/admin/v1/staff/grant".into(),
            json!({"user_id": user, "role": role}),
        ),
        AdminCommand::Staff {
            command: StaffCommand::Revoke { user, role },
        } => (
            "POST",
            "/admin/v1/staff/revoke".into(),
            json!({"user_id": user, "role": role}),
        ),
        AdminCommand::Staff {
            command: StaffCommand::List,
        } => ("GET", "/admin/v1/staff".into(), Value::Null),
        AdminCommand::Agreement {
            command: AgreementCommand::Publish { version, draft },
        } => (
            "POST",
            "/admin/v1/agreements".into(),
            json!({"version": version, "current": !draft}),
        ),
        AdminCommand::Agreement {
            command: AgreementCommand::List,
        } => ("GET", "/admin/v1/agreements".into(), Value::Null),
        AdminCommand::Apikey {
            command:
                ApikeyCommand::Create {
                    user,
                    scopes,
                    ip,
                    memo,
                },
        } => (
            "POST",
            "/admin/v1/apikeys".into(),
            json!({"user_id": user, "scopes": scopes, "ip": ip, "memo": memo}),
        ),
        AdminCommand::Deposit {
            command:
                DepositCommand::Credit {
                    user,
                    asset,
                    amount,
                    reference,
                },
        } => (
            "POST",
            "/admin/v1/deposits".into(),
            json!({"user_id": user, "asset": asset, "amount": amount, "reference": reference}),
        ),
        AdminCommand::Balances { user } => (
            "GET",
            format!("/admin/v1/balances?user_id={user}"),
            Value::Null,
        ),
        AdminCommand::Market { action, symbol } => (
            "POST",
            format!("/admin/v1/markets/{symbol}/{action}"),
            json!({}),
        ),
        AdminCommand::Twofa {
            decision,
            id,
            reviewer,
            reason,
        } => (
            "POST",
            format!("/admin/v1/2fa-resets/{id}/{decision}"),
            json!({"reviewer_id": reviewer, "reason": reason}),
        ),
        AdminCommand::Halt => ("POST", "/admin/v1/trading/halt".into(), json!({})),
        AdminCommand::Resume => ("POST", "/admin/v1/trading/resume".into(), json!({})),
        AdminCommand::Status => ("GET", "/admin/v1/engine".into(), Value::Null),
        AdminCommand::Consistency => ("GET", "/admin/v1/consistency".into(), Value::Null),
        AdminCommand::Audit {
            command: Some(AuditCommand::Verify),
            ..
        } => ("GET", "/admin/v1/audit/verify".into(), Value::Null),
        AdminCommand::SafeguardShare { bps } => (
            "POST",
            "/admin/v1/safeguard/share".into(),
            json!({"share_bps": bps}),
        ),
        AdminCommand::SafeguardPolicy {
            per_user_cap,
            per_incident_cap,
            note,
        } => (
            "POST",
            "/admin/v1/safeguard/policy".into(),
            json!({"per_user_cap_usdt": per_user_cap, "per_incident_cap_usdt": per_incident_cap,
                   "note": note}),
        ),
        AdminCommand::SafeguardTopUp {
            asset,
            amount,
            from,
            network,
            txid,
            note,
        } => (
            "POST",
            "/admin/v1/safeguard/top-ups".into(),
            json!({"asset": asset, "amount": amount, "from": from.replace('-', "_"),
                   "network": network, "txid": txid, "note": note}),
        ),
        AdminCommand::SafeguardTopUps => ("GET", "/admin/v1/safeguard/top-ups".into(), Value::Null),
        AdminCommand::Incident { command } => match command {
            IncidentCommand::Declare {
                kind,
                title,
                message,
                assets,
                markets,
                users,
                halt,
                freeze,
                pause_sweeps,
                losses,
            } => (
                "POST",
                "/admin/v1/incidents".into(),
                json!({"kind": kind, "title": title, "message": message, "assets": assets,
                       "markets": markets, "users": users, "halt": halt, "freeze": freeze,
                       "pause_sweeps": pause_sweeps, "losses": losses.iter().map(|l| loss_json(l)).collect::<Vec<_>>()}),
            ),
            IncidentCommand::Update { id, message } => (
                "POST",
                format!("/admin/v1/incidents/{id}/update"),
                json!({"message": message}),
            ),
            IncidentCommand::Lift { id, step } => (
                "POST",
                format!("/admin/v1/incidents/{id}/lift"),
                json!({"step": step}),
            ),
            IncidentCommand::Resolve { id, message } => (
                "POST",
                format!("/admin/v1/incidents/{id}/resolve"),
                json!({"message": message}),
            ),
            IncidentCommand::List => ("GET", "/admin/v1/incidents".into(), Value::Null),
        },
        AdminCommand::Transparency {
            command: TransparencyCommand::Publish,
        } => ("POST", "/admin/v1/transparency/publish".into(), json!({})),
        AdminCommand::Transparency {
            command: TransparencyCommand::Proof { user, asset, seq },
        } => {
            let mut path = format!("/admin/v1/transparency/proof?user={user}&asset={asset}");
            if let Some(seq) = seq {
                path.push_str(&format!("&seq={seq}"));
            }
            ("GET", path, Value::Null)
        }
        AdminCommand::Transparency {
            command: TransparencyCommand::ControlRequest { seq },
        } => (
            "GET",
            format!("/admin/v1/transparency/reports/{seq}/control-request"),
            Value::Null,
        ),
        AdminCommand::Transparency {
            command: TransparencyCommand::Control { seq, .. },
        } => (
            "POST",
            format!("/admin/v1/transparency/reports/{seq}/control"),
            Value::Null,
        ),
        AdminCommand::Audit { limit, .. } => {
            ("GET", format!("/admin/v1/audit?limit={limit}"), Value::Null)
        }
        AdminCommand::Chain { command } => match command {
            ChainCommand::Deposit {
                network,
                address,
                amount,
                asset,
            } => (
                "POST",
                format!("/admin/v1/chains/{network}/deposit"),
                json!({"address": address, "amount": amount, "asset": asset}),
            ),
            ChainCommand::Mine { network, blocks } => (
                "POST",
                format!("/admin/v1/chains/{network}/mine"),
                json!({"blocks": blocks}),
            ),
            ChainCommand::Steal {
                network,
                wallet,
                amount,
                asset,
            } => (
                "POST",
                format!("/admin/v1/chains/{network}/steal"),
                json!({"wallet": wallet, "amount": amount, "asset": asset}),
            ),
        },
        AdminCommand::Wallets => ("GET", "/admin/v1/wallets".into(), Value::Null),
        AdminCommand::Withdrawals { state } => (
            "GET",
            match state {
                Some(state) => format!("/admin/v1/custody/withdrawals?state={state}"),
                None => "/admin/v1/custody/withdrawals".into(),
            },
            Value::Null,
        ),
        AdminCommand::Reconcile => ("POST", "/admin/v1/reconcile".into(), json!({})),
        AdminCommand::Reconciliations => ("GET", "/admin/v1/reconciliations".into(), Value::Null),
        AdminCommand::OperatorKey { command } => match command {
            OperatorKeyCommand::Add { name, public_key } => (
                "POST",
                "/admin/v1/operator-keys".into(),
                json!({"name": name, "public_key": public_key}),
            ),
            OperatorKeyCommand::List => ("GET", "/admin/v1/operator-keys".into(), Value::Null),
            OperatorKeyCommand::Revoke { id } => (
                "POST",
                format!("/admin/v1/operator-keys/{id}/revoke"),
                json!({}),
            ),
        },
        AdminCommand::Movement { command } => match command {
            MovementCommand::Refill {
                asset,
                network,
                amount,
            } => (
                "POST",
                "/admin/v1/movements/refill".into(),
                json!({"asset": asset, "network": network, "amount": amount}),
            ),
            MovementCommand::Payout { claim } => (
                "POST",
                "/admin/v1/movements/safeguard-payout".into(),
                json!({"claim_id": claim}),
            ),
            MovementCommand::List => ("GET", "/admin/v1/movements".into(), Value::Null),
            MovementCommand::Describe { id } => {
                ("GET", format!("/admin/v1/movements/{id}"), Value::Null)
            }
            MovementCommand::Sign { id, .. } => (
                "POST",
                format!("/admin/v1/movements/{id}/sign"),
                Value::Null,
            ),
        },
        AdminCommand::ResolveIncident { id, resolution } => (
            "POST",
            format!("/admin/v1/custody/incidents/{id}/resolve"),
            json!({"resolution": resolution}),
        ),
    }
}

/// A JSON value as plain text: strings without their quotes, absent as nothing.
fn plain(value: Option<&Value>) -> String {
    value.map_or_else(String::new, |v| {
        v.as_str().map_or_else(|| v.to_string(), str::to_owned)
    })
}

fn human(command: &AdminCommand, answer: &Value) -> String {
    let field = |name: &str| plain(answer.get(name));
    match command {
        AdminCommand::User {
            command: UserCommand::Unfreeze { .. },
        } => format!("user {} {}", field("user_id"), field("status")),
        AdminCommand::User {
            command: UserCommand::KycTier { .. },
        } => format!("user {} kyc_tier {}", field("user_id"), field("kyc_tier")),
        AdminCommand::User { .. } => field("user_id"),
        AdminCommand::Staff {
            command: StaffCommand::List,
        } => answer
            .get("staff")
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        let roles = r
                            .get("roles")
                            .and_then(Value::as_array)
                            .map(|list| {
                                list.iter()
                                    .filter_map(Value::as_str)
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_default();
                        let contact = r
                            .get("email")
                            .and_then(Value::as_str)
                            .or_else(|| r.get("phone").and_then(Value::as_str))
                            .unwrap_or("");
                        let totp = if r.get("totp_enabled").and_then(Value::as_bool) == Some(true) {
                            "totp on"
                        } else {
                            "TOTP OFF (console refused)"
                        };
                        format!(
                            "{} {} roles={} {}",
                            r.get("user_id").map(Value::to_string).unwrap_or_default(),
                            contact,
                            roles,
                            totp
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        AdminCommand::Staff { .. } => {
            let roles = answer
                .get("roles")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            format!("user {} roles={}", field("user_id"), roles)
        }
        AdminCommand::Agreement {
            command: AgreementCommand::Publish { .. },
        } => format!(
            "agreement {} published (current: {})",
            field("version"),
            field("current")
        ),
        AdminCommand::Agreement { .. } => answer
            .get("versions")
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        let text = |k: &str| row.get(k).map(Value::to_string).unwrap_or_default();
                        format!(
                            "{} published_ms={} current={}",
                            text("version"),
                            text("published_ms"),
                            text("current")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        AdminCommand::Apikey { .. } => format!(
            "key {}\nsecret {}\nmemo {}",
            field("access_key"),
            field("secret"),
            field("memo")
        ),
        AdminCommand::Deposit { .. } => format!("{} (seq {})", field("status"), field("seq")),
        AdminCommand::Transparency {
            command: TransparencyCommand::Publish,
        } => field("seq"),
        // Meant for a file that the offline signer reads.
        AdminCommand::Transparency {
            command: TransparencyCommand::ControlRequest { .. },
        } => serde_json::to_string_pretty(answer).unwrap_or_default(),
        AdminCommand::Transparency {
            command: TransparencyCommand::Control { .. },
        } => {
            let mut lines = vec![format!(
                "report {}: {} new control proofs",
                field("seq"),
                field("added")
            )];
            if let Some(coverage) = answer.get("coverage").and_then(Value::as_object) {
                for (asset, c) in coverage {
                    let text = |k: &str| plain(c.get(k));
                    lines.push(format!(
                        "{asset}: {} of {} addresses, {} of {} units proven",
                        text("proven_addresses"),
                        text("addresses"),
                        text("proven"),
                        text("reserves")
                    ));
                }
            }
            lines.join("\n")
        }
        AdminCommand::SafeguardShare { .. } => format!(
            "safeguard share {} bps (was {})",
            field("share_bps"),
            field("previous_bps")
        ),
        AdminCommand::SafeguardPolicy { .. } => format!(
            "coverage policy {} published: caps {} USDT per user, {} USDT per incident",
            field("version"),
            field("per_user_cap_usdt"),
            field("per_incident_cap_usdt")
        ),
        AdminCommand::Incident {
            command: IncidentCommand::Declare { .. },
        } => format!("incident {} declared", field("id")),
        AdminCommand::SafeguardTopUp { .. } => format!(
            "fund topped up with {} {} from {} (seq {})",
            field("amount"),
            field("asset"),
            field("from"),
            field("journal_seq")
        ),
        AdminCommand::Audit {
            command: Some(AuditCommand::Verify),
            ..
        } => {
            if answer.get("intact").and_then(Value::as_bool) == Some(true) {
                format!(
                    "audit chain intact: {} entries, head {} {}",
                    field("entries"),
                    field("head_id"),
                    field("head_hash")
                )
            } else {
                format!("audit chain BROKEN at entry {}", field("broken_at"))
            }
        }
        AdminCommand::Chain {
            command: ChainCommand::Mine { .. },
        } => format!("{} height {}", field("network"), field("height")),
        AdminCommand::Movement {
            command: MovementCommand::Describe { .. },
        } => field("description"),
        AdminCommand::Chain { .. } => format!("{} tx {}", field("network"), field("txid")),
        AdminCommand::Balances { .. } => answer
            .get("balances")
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        let text = |name: &str| {
                            r.get(name)
                                .and_then(Value::as_str)
                                .unwrap_or("?")
                                .to_owned()
                        };
                        format!(
                            "{} available {} held {}",
                            text("asset"),
                            text("available"),
                            text("held")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        _ => serde_json::to_string_pretty(answer).unwrap_or_default(),
    }
}
