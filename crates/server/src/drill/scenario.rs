//! The fire drill's story, step by step, each with the checks that must hold: users trade
//! (fees feed the fund) → a thief drains the BTC hot wallet → reconciliation catches it →
//! security staff declare the incident (BTC withdrawals frozen, BTC_USDT halted) → the affected
//! are emailed, every page shows the banner, a claim is opened for each → one is rejected as a
//! compromise on the user's side, the others approved → each payout is signed by 2 of 3
//! operator keys, with the exchange crashing between the last signature and the payout, and
//! paid exactly once → the treasury restores the wallet → the signed report shows it all →
//! every user's proof of liabilities verifies → containment is lifted and trading resumes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use bulwark_safeguard::report::Report;
use serde_json::{Value, json};

use super::exchange::Exchange;
use super::person::{Person, text};
use super::{Log, refused_with};
use crate::signed_client::SignedClient;

/// BIP-173's example address: a destination nobody here owns.
const BTC_DEST: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
/// What the thief takes from the BTC hot wallet.
const STOLEN_BTC: &str = "2";
/// Every amount compared here has at most this many decimals.
const SCALE: u32 = 8;

/// A user with a trading key (withdrawals allowed from 127.0.0.1).
struct Trader {
    user_id: i64,
    api: SignedClient,
}

/// What the steps learn and later steps check against.
#[derive(Default)]
struct Story {
    fund_btc_before: i64,
    incident: i64,
}

/// A customer the theft affects: their browser, their API key, their loss and their claim.
struct Customer {
    person: Person,
    trader: Trader,
    lost: i64,
    claim: i64,
}

/// Alice and Bob lose funds to the breach; Carol's loss follows a login by someone else.
struct Customers {
    alice: Customer,
    bob: Customer,
    carol: Customer,
}

impl Customers {
    fn all(&self) -> [&Customer; 3] {
        [&self.alice, &self.bob, &self.carol]
    }

    fn all_mut(&mut self) -> [&mut Customer; 3] {
        [&mut self.alice, &mut self.bob, &mut self.carol]
    }
}

fn units(text: &str) -> anyhow::Result<i64> {
    bulwark_types::parse_units(text.trim(), SCALE)
        .map_err(|e| anyhow::anyhow!("{text:?} is not an amount: {e:?}"))
}

/// A decimal as printed with every digit of its scale, as an integer of the smallest unit.
fn digits(text: &str) -> anyhow::Result<u128> {
    text.replace('.', "")
        .parse()
        .with_context(|| format!("{text:?} is not an amount"))
}

fn amount(units: i64) -> String {
    bulwark_types::format_units(units, SCALE)
}

/// The whole drill; the caller stops the exchange afterwards whatever happened.
pub async fn run(ex: &mut Exchange, log: &mut Log) -> anyhow::Result<()> {
    let mut story = Story::default();
    log.step("the exchange starts on a fresh data directory");
    ex.start(None).await?;
    log.check(true, format!("bulwark serve answers at {}", ex.base))?;

    log.step("users deposit through the chains and trade; fees feed the Safeguard fund");
    let (maker, taker) = trade(ex, log, &mut story).await?;

    log.step("customers keep BTC on the exchange");
    let mut customers = customers(ex, log).await?;

    log.step("a thief drains the BTC hot wallet; reconciliation catches it");
    theft(ex, log, &customers).await?;

    log.step("security staff declare the incident; users are told");
    let (mut security, mut treasury) = staff(ex).await?;
    declare(
        ex,
        log,
        &mut story,
        &maker,
        &taker,
        &mut customers,
        &mut security,
    )
    .await?;

    log.step("a claim is opened for each affected user");
    claims_opened(ex, log, &story, &mut customers).await?;

    log.step("staff investigate; a compromise on the user's side is rejected, the rest approved");
    decide(ex, log, &customers, &mut security, &mut treasury).await?;

    log.step(
        "payouts signed by 2 of 3 operator keys, a crash between approval and payout, paid once",
    );
    payouts(ex, log, &mut customers, &mut treasury).await?;

    log.step("the treasury restores the hot wallet and refills the fund; reconciliation agrees");
    restore(ex, log, &customers).await?;

    log.step("the signed transparency report shows the incident, the payouts and the fund");
    let summary = report(ex, log, &story, &customers).await?;

    log.step("every user's proof of liabilities verifies against the report");
    let mut everyone = vec![
        maker.user_id,
        taker.user_id,
        security.user_id,
        treasury.user_id,
    ];
    everyone.extend(customers.all().map(|c| c.person.user_id));
    proofs(ex, log, &summary, &everyone, &mut customers.alice.person).await?;

    log.step("containment is lifted and trading resumes");
    lift(ex, log, &story, &maker, &taker, &customers, &mut security).await?;
    Ok(())
}

/// A KYC L1 user made by the operator, with a key allowed to trade and withdraw from loopback.
async fn trader(ex: &Exchange, email: &str) -> anyhow::Result<Trader> {
    let user = ex
        .admin(
            "POST",
            "/admin/v1/users",
            Some(json!({"email": email, "kyc_tier": "L1"})),
        )
        .await?;
    let user_id = user
        .get("user_id")
        .and_then(Value::as_i64)
        .context("no user_id")?;
    Ok(Trader {
        user_id,
        api: key_of(ex, user_id).await?,
    })
}

async fn key_of(ex: &Exchange, user_id: i64) -> anyhow::Result<SignedClient> {
    let key = ex
        .admin("POST", "/admin/v1/apikeys",
               Some(json!({"user_id": user_id, "scopes": "read,trade,withdraw", "ip": "127.0.0.1", "memo": "drill"})))
        .await?;
    SignedClient::new(
        text(&key, "access_key")?,
        text(&key, "secret")?,
        text(&key, "memo")?,
    )
}

/// A user's balance of `asset` (available + held) in units, from the operator API.
async fn balance(ex: &Exchange, user_id: i64, asset: &str) -> anyhow::Result<i64> {
    let answer = ex
        .admin(
            "GET",
            &format!("/admin/v1/balances?user_id={user_id}"),
            None,
        )
        .await?;
    let mut total = 0_i64;
    for row in answer
        .get("balances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if row.get("asset").and_then(Value::as_str) == Some(asset) {
            total = total
                .saturating_add(units(&text(row, "available")?)?)
                .saturating_add(units(&text(row, "held")?)?);
        }
    }
    Ok(total)
}

/// Sends `amount` to the user's deposit address on the simulated chain and mines it in.
async fn deposit(
    ex: &Exchange,
    user: &Trader,
    currency: &str,
    network: &str,
    asset: &str,
    amount_text: &str,
    blocks: u64,
) -> anyhow::Result<()> {
    let answer = user
        .api
        .keyed_get(
            &ex.base,
            &format!("/account/v1/deposit/address?currency={currency}"),
        )
        .await?;
    let address = answer
        .pointer("/data/address")
        .and_then(Value::as_str)
        .with_context(|| format!("no deposit address: {answer}"))?
        .to_owned();
    let before = balance(ex, user.user_id, asset).await?;
    ex.admin(
        "POST",
        &format!("/admin/v1/chains/{network}/deposit"),
        Some(json!({"address": address, "amount": amount_text, "asset": asset})),
    )
    .await?;
    ex.admin(
        "POST",
        &format!("/admin/v1/chains/{network}/mine"),
        Some(json!({"blocks": blocks})),
    )
    .await?;
    let expected = before.saturating_add(units(amount_text)?);
    ex.wait_for("the deposit's credit", || async {
        Ok((balance(ex, user.user_id, asset).await? == expected).then_some(()))
    })
    .await
}

/// The BTC hot wallet: (address, balance in units).
async fn btc_hot(ex: &Exchange) -> anyhow::Result<(String, i64)> {
    let wallets = ex.admin("GET", "/admin/v1/wallets", None).await?;
    let row = wallets
        .get("wallets")
        .and_then(Value::as_array)
        .and_then(|rows| rows.iter().find(|w| w.get("asset") == Some(&json!("BTC"))))
        .context("no BTC wallet")?;
    Ok((text(row, "hot_address")?, units(&text(row, "hot")?)?))
}

/// Reconciles now: (BTC shortfall in units, assets whose withdrawals are frozen).
async fn reconcile(ex: &Exchange) -> anyhow::Result<(i64, Vec<String>)> {
    let answer = ex.admin("POST", "/admin/v1/reconcile", None).await?;
    let btc = answer
        .get("assets")
        .and_then(Value::as_array)
        .and_then(|rows| rows.iter().find(|r| r.get("asset") == Some(&json!("BTC"))))
        .context("no BTC reconciliation")?;
    let frozen = answer
        .get("withdrawals_frozen")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok((units(&text(btc, "shortfall")?)?, frozen))
}

/// A signed order; answers BitMart's code and the order id when accepted.
async fn order(
    ex: &Exchange,
    who: &Trader,
    side: &str,
    size: &str,
    price: &str,
) -> anyhow::Result<(i64, String)> {
    let answer = who
        .api
        .signed_call(&who.api.http, &ex.base, "/spot/v2/submit_order",
                     &json!({"symbol": "BTC_USDT", "side": side, "type": "limit", "size": size, "price": price}))
        .await?;
    let code = answer.get("code").and_then(Value::as_i64).unwrap_or(-1);
    let id = answer
        .pointer("/data/order_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok((code, id))
}

async fn withdraw(ex: &Exchange, who: &Trader) -> anyhow::Result<Value> {
    who.api
        .signed_call(&who.api.http, &ex.base, "/account/v1/withdraw/apply",
                     &json!({"currency": "BTC", "amount": "0.01", "destination": "To Digital Address", "address": BTC_DEST}))
        .await
}

/// Fetches report `seq`'s exact bytes and signature, keeping copies in the drill directory.
async fn report_bytes(ex: &Exchange, seq: i64) -> anyhow::Result<(Vec<u8>, String)> {
    let (status, body) = ex
        .public_get(&format!("/transparency/v1/reports/{seq}"))
        .await?;
    if status != 200 {
        bail!("report {seq}: {status}");
    }
    let (status, signature) = ex
        .public_get(&format!("/transparency/v1/reports/{seq}/signature"))
        .await?;
    if status != 200 {
        bail!("report {seq}'s signature: {status}");
    }
    let path = ex.dir.join("drill").join(format!("report-{seq}.json"));
    std::fs::write(&path, body.as_bytes())?;
    std::fs::write(path.with_extension("json.sig"), signature.trim())?;
    Ok((body.into_bytes(), signature.trim().to_owned()))
}

async fn publish(ex: &Exchange) -> anyhow::Result<i64> {
    let answer = ex
        .admin("POST", "/admin/v1/transparency/publish", None)
        .await?;
    answer
        .get("seq")
        .and_then(Value::as_i64)
        .with_context(|| format!("no seq in {answer}"))
}

async fn trade(
    ex: &mut Exchange,
    log: &mut Log,
    story: &mut Story,
) -> anyhow::Result<(Trader, Trader)> {
    let maker = trader(ex, "maker@drill.example").await?;
    let taker = trader(ex, "taker@drill.example").await?;
    deposit(ex, &maker, "BTC", "BTC", "BTC", "5", 2).await?;
    deposit(ex, &taker, "USDT-TRC20", "TRC20", "USDT", "200000", 19).await?;
    log.check(
        true,
        "maker deposited 5 BTC and taker 200000 USDT through the simulated chains",
    )?;
    let mut trades = 0;
    for round in 0..10 {
        // The BTC goes back and forth; each takes turns at resting and crossing.
        let (seller, buyer) = if round % 2 == 0 {
            (&maker, &taker)
        } else {
            (&taker, &maker)
        };
        let size = if round % 2 == 0 { "0.5" } else { "0.4" };
        let (a, _) = order(ex, seller, "sell", size, "30000").await?;
        let (b, _) = order(ex, buyer, "buy", size, "30000").await?;
        if a == 1000 && b == 1000 {
            trades += 1;
        }
    }
    log.check(
        trades == 10,
        format!("{trades} of 10 crossing order pairs (0.5 and 0.4 BTC at 30000) accepted"),
    )?;
    let kept = balance(ex, maker.user_id, "BTC").await?;
    log.check(
        kept > 0 && kept < units("5")?,
        format!(
            "the maker holds {} BTC after the trades (5 less fees)",
            amount(kept)
        ),
    )?;
    let seq = publish(ex).await?;
    let (bytes, _) = report_bytes(ex, seq).await?;
    let first: Report = serde_json::from_slice(&bytes)?;
    let fund = |asset: &str| {
        first
            .safeguard
            .assets
            .get(asset)
            .map_or(Ok(0), |a| a.balance.parse::<i64>())
    };
    story.fund_btc_before = fund("BTC")?;
    let fund_usdt = fund("USDT")?;
    let usdt_scale = first.safeguard.assets.get("USDT").map_or(0, |a| a.scale);
    log.check(
        story.fund_btc_before > 0 && fund_usdt > 0,
        format!(
            "report {seq}: the fund holds {} BTC and {} USDT from its {} bps share of fees",
            amount(story.fund_btc_before),
            bulwark_types::format_units(fund_usdt, usdt_scale),
            first.safeguard.share_bps
        ),
    )?;
    let short: Vec<&String> = first
        .solvency
        .iter()
        .filter(|(_, s)| s.shortfall != "0")
        .map(|(a, _)| a)
        .collect();
    log.check(
        short.is_empty(),
        format!("report {seq}: reserves cover liabilities in every asset (short: {short:?})"),
    )?;
    Ok((maker, taker))
}

async fn customers(ex: &mut Exchange, log: &mut Log) -> anyhow::Result<Customers> {
    let mut made = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let person = Person::sign_up(ex, &format!("{name}@drill.example")).await?;
        ex.admin(
            "POST",
            &format!("/admin/v1/users/{}/kyc-tier", person.user_id),
            Some(json!({"tier": "L1"})),
        )
        .await?;
        let trader = Trader {
            user_id: person.user_id,
            api: key_of(ex, person.user_id).await?,
        };
        deposit(ex, &trader, "BTC", "BTC", "BTC", "1", 2).await?;
        made.push(Customer {
            person,
            trader,
            lost: 0,
            claim: 0,
        });
    }
    let Ok([alice, bob, carol]) = <[Customer; 3]>::try_from(made) else {
        bail!("three customers were made");
    };
    let mut customers = Customers { alice, bob, carol };
    log.check(
        true,
        "alice, bob and carol signed up with emailed codes, logged in, and deposited 1 BTC each",
    )?;
    ex.admin(
        "POST",
        "/admin/v1/chains/BTC/mine",
        Some(json!({"blocks": 1})),
    )
    .await?;
    let hot = ex
        .wait_for("the sweeps to the hot wallet", || async {
            let (_, hot) = btc_hot(ex).await?;
            Ok((hot == units("8")?).then_some(hot))
        })
        .await?;
    log.check(
        true,
        format!("deposits swept: the BTC hot wallet holds {}", amount(hot)),
    )?;
    let (short, _) = reconcile(ex).await?;
    log.check(
        short == 0,
        "reconciliation: BTC on chain matches what custody owes",
    )?;
    // Three days later. Alice and Bob log in as always; Carol's stolen cookies and password are
    // used from an address her account never used.
    ex.advance_clock(3 * 24 * 3_600 * 1_000)?;
    customers
        .carol
        .person
        .move_to(IpAddr::from([127, 0, 0, 2]))?;
    for customer in customers.all_mut() {
        customer.person.login(ex).await?;
    }
    log.check(true, "three days later: alice and bob log in from 127.0.0.1, someone logs in as carol from 127.0.0.2")?;
    Ok(customers)
}

async fn theft(ex: &Exchange, log: &mut Log, customers: &Customers) -> anyhow::Result<()> {
    ex.admin(
        "POST",
        "/admin/v1/chains/BTC/steal",
        Some(json!({"wallet": "hot", "amount": STOLEN_BTC, "asset": "BTC"})),
    )
    .await?;
    ex.admin(
        "POST",
        "/admin/v1/chains/BTC/mine",
        Some(json!({"blocks": 1})),
    )
    .await?;
    let (_, hot) = btc_hot(ex).await?;
    log.check(
        hot == units("6")?,
        format!(
            "{STOLEN_BTC} BTC left the hot wallet on chain (it holds {})",
            amount(hot)
        ),
    )?;
    let (short, frozen) = reconcile(ex).await?;
    log.check(
        short == units(STOLEN_BTC)?,
        format!("reconciliation finds {} BTC missing", amount(short)),
    )?;
    log.check(
        frozen.iter().any(|a| a == "BTC"),
        format!("BTC withdrawals frozen at once (frozen: {frozen:?})"),
    )?;
    let refused = withdraw(ex, &customers.alice.trader).await?;
    log.check(
        refused.get("code") == Some(&json!(60004)),
        format!(
            "a BTC withdrawal is refused: {}",
            refused.get("message").unwrap_or(&Value::Null)
        ),
    )?;
    Ok(())
}

/// A staff member: signed up, granted `role` by the operator, TOTP on, logged in through it.
async fn staff_member(ex: &mut Exchange, email: &str, role: &str) -> anyhow::Result<Person> {
    let mut person = Person::sign_up(ex, email).await?;
    ex.admin(
        "POST",
        "/admin/v1/staff/grant",
        Some(json!({"user_id": person.user_id, "role": role})),
    )
    .await?;
    person.enrol_totp(ex).await?;
    Ok(person)
}

async fn staff(ex: &mut Exchange) -> anyhow::Result<(Person, Person)> {
    let security = staff_member(ex, "security@drill.example", "security").await?;
    let treasury = staff_member(ex, "treasury@drill.example", "treasury").await?;
    Ok((security, treasury))
}

async fn declare(
    ex: &mut Exchange,
    log: &mut Log,
    story: &mut Story,
    maker: &Trader,
    taker: &Trader,
    customers: &mut Customers,
    security: &mut Person,
) -> anyhow::Result<()> {
    let (code, resting) = order(ex, maker, "sell", "0.1", "31000").await?;
    if code != 1000 {
        bail!("the maker's resting order was refused ({code})");
    }
    // What each lost, sized to the fund: alice 30 %, bob 20 %, carol 25 % of its BTC.
    let fund = story.fund_btc_before;
    customers.alice.lost = fund * 3 / 10;
    customers.bob.lost = fund / 5;
    customers.carol.lost = fund / 4;
    let losses: Vec<Value> = customers
        .all()
        .iter()
        .map(|c| json!({"user": c.person.user_id, "asset": "BTC", "amount": amount(c.lost)}))
        .collect();
    let title = "BTC hot wallet breach";
    let declared = security
        .ok(ex, "POST", "/api/v1/admin/incidents", Some(json!({
            "kind": "hot_wallet_breach", "title": title,
            "message": "Funds were taken from our BTC hot wallet. BTC withdrawals and the BTC_USDT market are stopped while we investigate; your balances are safe.",
            "assets": ["BTC"], "markets": ["BTC_USDT"],
            "users": customers.all().map(|c| c.person.user_id),
            "halt": "markets", "freeze": "assets", "losses": losses})))
        .await?;
    story.incident = declared
        .get("id")
        .and_then(Value::as_i64)
        .context("no incident id")?;
    log.check(
        true,
        format!(
            "incident {} declared by a security staff member (TOTP session)",
            story.incident
        ),
    )?;
    let (code, _) = order(ex, taker, "buy", "0.1", "30000").await?;
    log.check(
        code != 1000,
        format!("a BTC_USDT order is refused while halted (code {code})"),
    )?;
    let cancelled = maker
        .api
        .signed_call(
            &maker.api.http,
            &ex.base,
            "/spot/v3/cancel_order",
            &json!({"symbol": "BTC_USDT", "order_id": resting}),
        )
        .await?;
    log.check(
        cancelled.get("code") == Some(&json!(1000)),
        "cancels still work on the halted market",
    )?;
    let refused = withdraw(ex, &customers.bob.trader).await?;
    log.check(
        refused.get("code") != Some(&json!(1000)),
        "BTC withdrawals stay frozen",
    )?;
    let (_, home) = ex.public_get("/").await?;
    log.check(
        home.contains(title),
        "the home page shows the incident banner",
    )?;
    let (status, page) = ex
        .public_get(&format!("/incidents/{}", story.incident))
        .await?;
    log.check(
        status == 200 && page.contains("your balances are safe"),
        "the public incident page shows the timeline",
    )?;
    let emails: Vec<String> = customers
        .all()
        .iter()
        .map(|c| c.person.email.clone())
        .collect();
    let mails = ex
        .wait_for("the incident emails", || async {
            let mails = ex.outbox("incident_notice")?;
            let all = emails.iter().all(|e| {
                mails
                    .iter()
                    .any(|m| m.contains(e.as_str()) && m.contains("opened claim #"))
            });
            Ok(all.then_some(mails.len()))
        })
        .await?;
    log.check(true, format!("{mails} incident emails sent (to everyone holding BTC); alice, bob and carol each told of the claim opened for them"))?;
    Ok(())
}

async fn claims_opened(
    ex: &mut Exchange,
    log: &mut Log,
    story: &Story,
    customers: &mut Customers,
) -> anyhow::Result<()> {
    for customer in customers.all_mut() {
        let mine = customer
            .person
            .ok(ex, "GET", "/api/v1/claims", None)
            .await?;
        let claims = mine
            .get("claims")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let [claim] = claims.as_slice() else {
            bail!(
                "{} has {} claims, not one",
                customer.person.email,
                claims.len()
            );
        };
        let claimed = claim
            .get("claimed")
            .and_then(Value::as_str)
            .map(units)
            .transpose()?;
        let ok = claim.get("incident_id") == Some(&json!(story.incident))
            && claim.get("state") == Some(&json!("submitted"))
            && claimed == Some(customer.lost);
        log.check(
            ok,
            format!(
                "{} sees one claim for {} BTC, submitted, under incident {}",
                customer.person.email,
                amount(customer.lost),
                story.incident
            ),
        )?;
        customer.claim = claim
            .get("id")
            .and_then(Value::as_i64)
            .context("claim id")?;
    }
    Ok(())
}

async fn decide(
    ex: &Exchange,
    log: &mut Log,
    customers: &Customers,
    security: &mut Person,
    treasury: &mut Person,
) -> anyhow::Result<()> {
    for customer in customers.all() {
        let (id, email) = (customer.claim, &customer.person.email);
        for action in ["acknowledge", "investigate"] {
            security
                .ok(
                    ex,
                    "POST",
                    &format!("/api/v1/admin/claims/{id}/{action}"),
                    Some(json!({})),
                )
                .await?;
        }
        let view = treasury
            .ok(ex, "GET", &format!("/api/v1/admin/claims/{id}"), None)
            .await?;
        let flags = view
            .pointer("/investigation/compromise_flags")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let compromised = std::ptr::eq(customer, &customers.carol);
        log.check(
            flags.is_empty() != compromised,
            format!(
                "investigation of {email}'s claim: {}",
                flags
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("no sign of compromise on the user's side")
            ),
        )?;
        let (action, body) = if compromised {
            (
                "reject",
                json!({"reason_code": "user_phishing_or_malware", "note": "A login from an address never seen on the account came just before the loss."}),
            )
        } else {
            let approve =
                json!({"amount": amount(customer.lost), "reason_code": "platform_wallet_breach"});
            // The investigator never decides.
            let (status, refused) = security
                .call(
                    ex,
                    "POST",
                    &format!("/api/v1/admin/claims/{id}/approve"),
                    Some(approve.clone()),
                )
                .await?;
            log.check(
                refused_with(status, &refused, "investigator_decides"),
                "the investigator cannot approve the claim they investigated",
            )?;
            ("approve", approve)
        };
        let decided = treasury
            .ok(
                ex,
                "POST",
                &format!("/api/v1/admin/claims/{id}/{action}"),
                Some(body),
            )
            .await?;
        let state = decided
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        log.check(
            state == if compromised { "rejected" } else { "approved" },
            format!("{email}'s claim {state} by a treasury staff member"),
        )?;
    }
    Ok(())
}

/// Signs movement `id` with one operator key; answers the operator API's (status, body), or
/// an error when the connection died (the injected crash).
async fn sign(ex: &Exchange, id: i64, secret: &str) -> anyhow::Result<(u16, Value)> {
    let movement = ex
        .admin("GET", &format!("/admin/v1/movements/{id}"), None)
        .await?;
    let description = text(&movement, "description")?;
    let (public_key, signature) = bulwark_custody::signatures::sign(secret, &description)?;
    ex.admin_call(
        "POST",
        &format!("/admin/v1/movements/{id}/sign"),
        Some(json!({"public_key": public_key, "signature": signature})),
    )
    .await
}

async fn claim_state(ex: &Exchange, customer: &mut Customer) -> anyhow::Result<String> {
    let claim = customer
        .person
        .ok(
            ex,
            "GET",
            &format!("/api/v1/claims/{}", customer.claim),
            None,
        )
        .await?;
    text(&claim, "state")
}

/// Proposes the payout of an approved claim; answers the movement's id.
async fn propose(
    ex: &Exchange,
    log: &mut Log,
    treasury: &mut Person,
    customer: &Customer,
) -> anyhow::Result<i64> {
    let paying = treasury
        .ok(
            ex,
            "POST",
            &format!("/api/v1/admin/claims/{}/pay", customer.claim),
            Some(json!({})),
        )
        .await?;
    let movement = paying
        .get("movement_id")
        .and_then(Value::as_i64)
        .context("no movement")?;
    log.check(
        paying.get("state") == Some(&json!("payout_pending")),
        format!(
            "{}'s payout proposed as movement {movement}",
            customer.person.email
        ),
    )?;
    Ok(movement)
}

async fn payouts(
    ex: &mut Exchange,
    log: &mut Log,
    customers: &mut Customers,
    treasury: &mut Person,
) -> anyhow::Result<()> {
    // Each operator makes a key pair offline (`bulwark operator keygen` does the same).
    let operator = bulwark_custody::signatures::keygen;
    let keys = [operator()?, operator()?, operator()?];
    for (n, (_, public)) in keys.iter().enumerate() {
        ex.admin(
            "POST",
            "/admin/v1/operator-keys",
            Some(json!({"name": format!("operator-{}", n + 1), "public_key": public})),
        )
        .await?;
    }
    let [(one, _), (two, _), (three, _)] = &keys;
    log.check(
        true,
        "three operator keys made offline and registered; two must sign each movement",
    )?;
    let for_alice = propose(ex, log, treasury, &customers.alice).await?;
    let for_bob = propose(ex, log, treasury, &customers.bob).await?;
    let alice = customers.alice.person.user_id;
    let before = balance(ex, alice, "BTC").await?;

    // The crash: the exchange restarts with a fault armed that aborts it right after a
    // movement's last signature is recorded, before the payout runs.
    ex.stop().await?;
    ex.start(Some("crash-after-movement-signatures")).await?;
    let (status, _) = sign(ex, for_alice, one).await?;
    log.check(status == 200, "operator 1 signs alice's payout")?;
    let second = sign(ex, for_alice, two).await;
    let exit = ex.wait_exit(Duration::from_secs(30)).await?;
    log.check(second.is_err() && !exit.success(),
              format!("operator 2's signature completes the approval and the exchange dies before paying ({exit})"))?;
    ex.start(None).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let state = loop {
        let state = claim_state(ex, &mut customers.alice).await?;
        if state == "paid" || std::time::Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let after = balance(ex, alice, "BTC").await?;
    let paid = after.saturating_sub(before);
    log.check(state == "paid" && paid == customers.alice.lost,
              format!("after the restart the approved payout ran: alice's claim {state}, her BTC up by exactly {}", amount(paid)))?;
    let (status, late) = sign(ex, for_alice, three).await?;
    let again = balance(ex, alice, "BTC").await?;
    log.check(
        status >= 400 && again == after,
        format!(
            "a third signature is refused ({}) and pays nothing more",
            late.pointer("/error/code").unwrap_or(&Value::Null)
        ),
    )?;
    for secret in [two, three] {
        sign(ex, for_bob, secret).await?;
    }
    let state = claim_state(ex, &mut customers.bob).await?;
    log.check(
        state == "paid",
        format!("bob's payout signed by operators 2 and 3: claim {state}"),
    )?;
    Ok(())
}

/// A treasury transfer into the BTC hot wallet from outside; answers its transaction id.
async fn treasury_send(ex: &Exchange, amount_text: &str) -> anyhow::Result<String> {
    let (hot_address, _) = btc_hot(ex).await?;
    let sent = ex
        .admin(
            "POST",
            "/admin/v1/chains/BTC/deposit",
            Some(json!({"address": hot_address, "amount": amount_text, "asset": "BTC"})),
        )
        .await?;
    text(&sent, "txid")
}

async fn top_up(ex: &Exchange, body: Value) -> anyhow::Result<(u16, Value)> {
    ex.admin_call("POST", "/admin/v1/safeguard/top-ups", Some(body))
        .await
}

async fn restore(ex: &Exchange, log: &mut Log, customers: &Customers) -> anyhow::Result<()> {
    treasury_send(ex, STOLEN_BTC).await?;
    // The fund is refilled by what it paid, with treasury coins custody must see arrive.
    let paid = customers.alice.lost.saturating_add(customers.bob.lost);
    let refill = treasury_send(ex, &amount(paid)).await?;
    ex.admin(
        "POST",
        "/admin/v1/chains/BTC/mine",
        Some(json!({"blocks": 1})),
    )
    .await?;
    let body = json!({"asset": "BTC", "amount": amount(paid), "from": "treasury", "network": "BTC",
                      "txid": refill, "note": "refill after the hot wallet breach payouts"});
    let (status, early) = top_up(ex, body.clone()).await?;
    log.check(refused_with(status, &early, "not_confirmed"),
              "a fund top-up from a treasury transfer with 1 of 2 confirmations is refused (not_confirmed)")?;
    ex.admin(
        "POST",
        "/admin/v1/chains/BTC/mine",
        Some(json!({"blocks": 1})),
    )
    .await?;
    let mut wrong = body.clone();
    if let Some(field) = wrong.get_mut("amount") {
        *field = json!(amount(paid.saturating_add(1)));
    }
    let (status, mismatch) = top_up(ex, wrong).await?;
    log.check(
        refused_with(status, &mismatch, "amount_mismatch"),
        "a top-up claiming more than the transaction brought is refused (amount_mismatch)",
    )?;
    let (status, done) = top_up(ex, body.clone()).await?;
    log.check(
        status == 200 && done.get("amount") == Some(&json!(amount(paid))),
        format!(
            "the fund is topped up with {} BTC from the treasury transfer",
            amount(paid)
        ),
    )?;
    let (status, again) = top_up(ex, body).await?;
    log.check(
        refused_with(status, &again, "duplicate_top_up"),
        "the same transfer cannot top up the fund twice (duplicate_top_up)",
    )?;
    // The platform also moves some of its own fee revenue into the fund.
    let (status, short) = top_up(
        ex,
        json!({"asset": "USDT", "amount": "1000000", "from": "fee_revenue"}),
    )
    .await?;
    log.check(
        refused_with(status, &short, "revenue_insufficient"),
        "a top-up larger than the USDT fee revenue is refused (revenue_insufficient)",
    )?;
    let (status, _) = top_up(
        ex,
        json!({"asset": "USDT", "amount": "10", "from": "fee_revenue"}),
    )
    .await?;
    log.check(status == 200, "10 USDT of fee revenue moved into the fund")?;
    let (short, _) = reconcile(ex).await?;
    log.check(short == 0, format!("{STOLEN_BTC} BTC sent from the treasury to the hot wallet; reconciliation finds nothing missing"))?;
    let listed = ex.admin("GET", "/admin/v1/reconciliations", None).await?;
    let open: Vec<i64> = listed
        .get("incidents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("resolved_ms").is_none_or(Value::is_null))
        .filter_map(|i| i.get("id").and_then(Value::as_i64))
        .collect();
    for id in &open {
        ex.admin(
            "POST",
            &format!("/admin/v1/custody/incidents/{id}/resolve"),
            Some(json!({"resolution": "hot wallet refilled from the treasury"})),
        )
        .await?;
    }
    log.check(
        !open.is_empty(),
        format!("custody's automatic incidents {open:?} resolved"),
    )?;
    Ok(())
}

async fn report(
    ex: &Exchange,
    log: &mut Log,
    story: &Story,
    customers: &Customers,
) -> anyhow::Result<bulwark_por::ReportSummary> {
    let seq = publish(ex).await?;
    let previous = seq.saturating_sub(1);
    let (bytes, signature) = report_bytes(ex, seq).await?;
    let (prev, _) = report_bytes(ex, previous).await?;
    let (_, key) = ex.public_get("/transparency/v1/key").await?;
    std::fs::write(ex.dir.join("drill").join("key.hex"), key.trim())?;
    let summary = bulwark_por::verify_report(&bytes, &signature, key.trim(), Some(&prev))
        .map_err(|e| anyhow::anyhow!("report {seq} does not verify: {e}"))?;
    log.check(
        true,
        format!(
            "report {seq}: ed25519 signature valid and chained to report {previous} (sha256 {})",
            summary.sha256
        ),
    )?;
    let report: Report = serde_json::from_slice(&bytes)?;
    let declared = report
        .declared_incidents
        .iter()
        .any(|i| i.id == story.incident && i.kind == "hot_wallet_breach");
    log.check(
        declared,
        format!("the report lists incident {}", story.incident),
    )?;
    let stats = report.claims.clone().unwrap_or_default();
    let paid: BTreeMap<i64, (Option<i64>, String)> = stats
        .payouts
        .iter()
        .map(|p| (p.claim_id, (p.incident_id, p.amount.clone())))
        .collect();
    let mut payouts_ok =
        stats.filed == 3 && stats.approved == 2 && stats.rejected == 1 && stats.paid == 2;
    let mut paid_total = 0_i64;
    for customer in [&customers.alice, &customers.bob] {
        paid_total = paid_total.saturating_add(customer.lost);
        payouts_ok &=
            paid.get(&customer.claim) == Some(&(Some(story.incident), customer.lost.to_string()));
    }
    log.check(payouts_ok, format!("claims: {} filed, {} approved, {} rejected, {} paid; both payouts listed under incident {}",
                                  stats.filed, stats.approved, stats.rejected, stats.paid, story.incident))?;
    let fund = report
        .safeguard
        .assets
        .get("BTC")
        .map_or(Ok(0), |a| a.balance.parse::<i64>())?;
    log.check(fund == story.fund_btc_before && report.safeguard.top_ups.iter().any(|t| t.from == "treasury" && t.amount == paid_total.to_string()),
              format!("the fund holds {} BTC: {} before, {} paid out, {} topped up by the treasury (listed in the report)",
                      amount(fund), amount(story.fund_btc_before), amount(paid_total), amount(paid_total)))?;
    let short: Vec<&String> = report
        .solvency
        .iter()
        .filter(|(_, s)| s.shortfall != "0")
        .map(|(a, _)| a)
        .collect();
    log.check(
        short.is_empty(),
        "reserves cover liabilities in every asset again",
    )?;
    super::reserves::control(ex, log, seq, &bytes).await?;
    Ok(summary)
}

async fn proofs(
    ex: &Exchange,
    log: &mut Log,
    summary: &bulwark_por::ReportSummary,
    users: &[i64],
    alice: &mut Person,
) -> anyhow::Result<()> {
    let mut proven: BTreeMap<String, u128> = BTreeMap::new();
    let mut count = 0;
    for user in users {
        let answer = ex
            .admin("GET", &format!("/admin/v1/balances?user_id={user}"), None)
            .await?;
        for row in answer
            .get("balances")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let asset = text(row, "asset")?;
            let proof_json = ex
                .admin(
                    "GET",
                    &format!(
                        "/admin/v1/transparency/proof?user={user}&asset={asset}&seq={}",
                        summary.seq
                    ),
                    None,
                )
                .await?;
            let proof: bulwark_por::Proof =
                serde_json::from_value(proof_json.get("proof").cloned().unwrap_or(proof_json))?;
            let root = summary
                .roots
                .get(&asset)
                .with_context(|| format!("no {asset} root"))?;
            let proven_balance = bulwark_por::verify_proof(&proof, Some(root))
                .map_err(|e| anyhow::anyhow!("user {user}'s {asset} proof: {e}"))?;
            // The ledger's balance, available + held, in the asset's smallest unit (the
            // operator API prints every decimal of the asset's scale).
            let ledger =
                digits(&text(row, "available")?)?.saturating_add(digits(&text(row, "held")?)?);
            if u128::from(proven_balance) != ledger {
                bail!(
                    "user {user}'s {asset} proof proves {proven_balance}, the ledger holds {ledger}"
                );
            }
            let sum = proven.entry(asset).or_default();
            *sum = sum.saturating_add(ledger);
            count += 1;
        }
    }
    let sums_ok = summary
        .roots
        .iter()
        .all(|(asset, root)| root.sum == proven.get(asset).copied().unwrap_or(0).to_string());
    log.check(sums_ok, format!("{count} proofs (every balance of the {} users) verify and equal the ledger; per asset they add up to the published root sums", users.len()))?;
    let mine = alice
        .ok(ex, "GET", "/api/v1/transparency/proof?asset=BTC", None)
        .await?;
    let proof: bulwark_por::Proof =
        serde_json::from_value(mine.get("proof").cloned().unwrap_or(mine.clone()))?;
    let root = summary.roots.get("BTC").context("no BTC root")?;
    let verified = bulwark_por::verify_proof(&proof, Some(root)).is_ok();
    std::fs::write(
        ex.dir.join("drill").join("proof-alice-BTC.json"),
        serde_json::to_vec_pretty(&proof)?,
    )?;
    log.check(
        verified,
        "alice downloads her own BTC proof through the account API and it verifies",
    )?;
    Ok(())
}

async fn lift(
    ex: &Exchange,
    log: &mut Log,
    story: &Story,
    maker: &Trader,
    taker: &Trader,
    customers: &Customers,
    security: &mut Person,
) -> anyhow::Result<()> {
    let id = story.incident;
    security
        .ok(
            ex,
            "POST",
            &format!("/api/v1/admin/incidents/{id}/lift"),
            Some(json!({"step": "freeze"})),
        )
        .await?;
    let accepted = withdraw(ex, &customers.alice.trader).await?;
    log.check(
        accepted.get("code") == Some(&json!(1000)),
        "freeze lifted: a BTC withdrawal is accepted again",
    )?;
    security
        .ok(
            ex,
            "POST",
            &format!("/api/v1/admin/incidents/{id}/lift"),
            Some(json!({"step": "halt"})),
        )
        .await?;
    let before = balance(ex, taker.user_id, "BTC").await?;
    let (a, _) = order(ex, maker, "sell", "0.1", "30000").await?;
    let (b, _) = order(ex, taker, "buy", "0.1", "30000").await?;
    let after = balance(ex, taker.user_id, "BTC").await?;
    log.check(
        a == 1000 && b == 1000 && after > before,
        "halt lifted: BTC_USDT trades again",
    )?;
    security
        .ok(ex, "POST", &format!("/api/v1/admin/incidents/{id}/resolve"),
            Some(json!({"message": "The hot wallet is restored from the treasury and affected customers are paid."})))
        .await?;
    let (_, home) = ex.public_get("/").await?;
    log.check(
        !home.contains("BTC hot wallet breach"),
        "incident resolved: the banner is gone",
    )?;
    let audit = ex.admin("GET", "/admin/v1/audit/verify", None).await?;
    log.check(
        audit.get("intact") == Some(&json!(true)),
        format!(
            "the audit log's hash chain is intact ({} entries)",
            audit.get("entries").unwrap_or(&Value::Null)
        ),
    )?;
    Ok(())
}
