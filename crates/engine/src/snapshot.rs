//! Canonical snapshot encoding and the state hash.
//!
//! The snapshot is postcard over a representation with one defined order for everything:
//! assets and markets by id, users by id, resting orders in priority order per book side,
//! withdrawal holds, references and claim ids sorted, the idempotency window oldest first. Two
//! engines in the same logical state therefore encode to the same bytes whatever their internal
//! layout (hash-map order, slab slots, user slots), and `state_hash` is SHA-256 of those bytes.
//!
//! Decoding rebuilds every derived index (books, user lists, client ids), then runs the full
//! invariant check and re-encodes: a snapshot is accepted only if it is consistent and
//! canonical, so a restored engine hashes and behaves exactly like the original.

use bulwark_types::{CommandId, OrderId, Side, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::client_order_id::ClientOrderId;
use crate::command::{NewOrder, OrderKind, StpMode};
use crate::engine::{Engine, LiveOrder, Market, Trigger, WithdrawalHold, order_amounts};
use crate::event::TriggerDirection;
use crate::ledger::{Balance, Ledger};
use crate::reject::Outcome;
use crate::spec::{AssetId, AssetSpec, MarketId, MarketSpec};

/// Version of the snapshot layout; bumped on any change to it.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 2;

/// Why bytes are not a usable snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SnapshotError {
    #[error("snapshot does not decode: {0}")]
    Decode(String),
    #[error(
        "snapshot format version {found} is not supported (expected {SNAPSHOT_FORMAT_VERSION})"
    )]
    Version { found: u32 },
    #[error("snapshot is inconsistent: {0}")]
    Invalid(String),
}

/// The state hash of an engine from its [`Engine::encode_snapshot`] bytes, so that whoever
/// has just encoded a snapshot does not encode it a second time to hash it.
pub fn snapshot_hash(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
}

/// The layout version a snapshot was written with (its first field), so recovery can pass over
/// snapshots of an older layout and rebuild from the journal instead.
pub fn snapshot_format_version(bytes: &[u8]) -> Option<u32> {
    postcard::take_from_bytes::<u32>(bytes)
        .ok()
        .map(|(version, _)| version)
}

#[derive(Serialize, Deserialize)]
struct SnapOrder {
    id: OrderId,
    user: UserId,
    kind: OrderKind,
    price_ticks: i64,
    size_lots: i64,
    notional: i64,
    filled_lots: i64,
    filled_quote: i64,
    fee_paid: i64,
    client_order_id: Option<ClientOrderId>,
    stp: StpMode,
    created_ms: i64,
    updated_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct SnapMarket {
    spec: MarketSpec,
    halted: bool,
    last_price_ticks: Option<i64>,
    /// Priority order.
    bids: Vec<SnapOrder>,
    asks: Vec<SnapOrder>,
}

/// A waiting stop order; its hold is derived from the order again on restore.
#[derive(Serialize, Deserialize)]
struct SnapTrigger {
    id: OrderId,
    order: NewOrder,
    trigger_price_ticks: i64,
    direction: TriggerDirection,
    created_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct SnapUser {
    id: UserId,
    /// Non-zero balances by asset id: `(asset, available, held)`.
    balances: Vec<(AssetId, i64, i64)>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format_version: u32,
    last_seq: u64,
    next_order_id: u64,
    next_trade_id: u64,
    safeguard_share_bps: u32,
    global_halted: bool,
    assets: Vec<AssetSpec>,
    markets: Vec<SnapMarket>,
    users: Vec<SnapUser>,
    /// Per asset: FeeRevenue, Safeguard, External, Adjustments.
    system: Vec<[i64; 4]>,
    /// Open holds sorted by withdrawal id: `(id, user, asset, amount)`.
    withdrawals: Vec<(u64, UserId, AssetId, i64)>,
    withdrawal_ids: Vec<u64>,
    /// Waiting stop orders by id.
    triggers: Vec<SnapTrigger>,
    deposit_refs: Vec<[u8; 32]>,
    payout_claims: Vec<u64>,
    /// Remembered outcomes, oldest first: `(seq, command id, outcome)`.
    idempotency: Vec<(u64, CommandId, Outcome)>,
}

fn sorted<T: Ord + Copy>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.collect();
    v.sort_unstable();
    v
}

impl Engine {
    fn snap_side(&self, market: &Market, side: Side) -> Vec<SnapOrder> {
        market
            .book
            .iter_side(side)
            .filter_map(|r| self.orders.get(&r.id))
            .map(|o| SnapOrder {
                id: o.id,
                user: o.user,
                kind: o.kind,
                price_ticks: o.price_ticks,
                size_lots: o.size_lots,
                notional: o.notional,
                filled_lots: o.filled_lots,
                filled_quote: o.filled_quote,
                fee_paid: o.fee_paid,
                client_order_id: o.client_order_id,
                stp: o.stp,
                created_ms: o.created_ms,
                updated_ms: o.updated_ms,
            })
            .collect()
    }

    fn snapshot(&self) -> Snapshot {
        let markets = self
            .markets
            .iter()
            .map(|m| SnapMarket {
                spec: m.spec.clone(),
                halted: m.halted,
                last_price_ticks: m.last_price_ticks,
                bids: self.snap_side(m, Side::Buy),
                asks: self.snap_side(m, Side::Sell),
            })
            .collect();
        let users = self
            .ledger
            .user_ids()
            .into_iter()
            .map(|id| SnapUser {
                id,
                balances: self.user_balances(id),
            })
            .collect();
        let system = (0..self.assets.len())
            .filter_map(|a| u16::try_from(a).ok())
            .map(|a| {
                Ledger::system_accounts().map(|acct| self.ledger.system_balance(AssetId(a), acct))
            })
            .collect();
        let mut withdrawals: Vec<_> = self
            .withdrawals
            .iter()
            .map(|(&id, w)| (id, w.user, w.asset, w.amount))
            .collect();
        withdrawals.sort_unstable();
        Snapshot {
            format_version: SNAPSHOT_FORMAT_VERSION,
            last_seq: self.last_seq,
            next_order_id: self.next_order_id,
            next_trade_id: self.next_trade_id,
            safeguard_share_bps: self.safeguard_share_bps,
            global_halted: self.global_halted,
            assets: self.assets.clone(),
            markets,
            users,
            system,
            withdrawals,
            withdrawal_ids: sorted(self.withdrawal_ids.iter().copied()),
            triggers: self
                .triggers
                .values()
                .map(|t| SnapTrigger {
                    id: t.id,
                    order: t.order.clone(),
                    trigger_price_ticks: t.trigger_price_ticks,
                    direction: t.direction,
                    created_ms: t.created_ms,
                })
                .collect(),
            deposit_refs: sorted(self.deposit_refs.iter().copied()),
            payout_claims: sorted(self.payout_claims.iter().copied()),
            idempotency: self.window.live_entries(self.last_seq),
        }
    }

    /// The canonical snapshot: everything needed to continue exactly where this engine is.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let encoded = postcard::to_stdvec(&self.snapshot());
        // Only plain data with known lengths is serialised into a Vec: this cannot fail unless
        // the serialisation code is broken, and a silently empty snapshot would lose money.
        assert!(
            encoded.is_ok(),
            "snapshot encoding failed: {:?}",
            encoded.as_ref().err()
        );
        encoded.unwrap_or_default()
    }

    /// SHA-256 of the canonical snapshot: equal states have equal hashes.
    pub fn state_hash(&self) -> [u8; 32] {
        snapshot_hash(&self.encode_snapshot())
    }

    /// Rebuilds an engine from [`Engine::encode_snapshot`] bytes. The result passes
    /// [`Engine::check_invariants`] and re-encodes to exactly `bytes`, or this fails.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let decode = |e: postcard::Error| SnapshotError::Decode(e.to_string());
        // The version comes first, so a snapshot of another layout is named as such.
        let (found, _) = postcard::take_from_bytes::<u32>(bytes).map_err(decode)?;
        if found != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::Version { found });
        }
        let (snap, rest) = postcard::take_from_bytes::<Snapshot>(bytes).map_err(decode)?;
        if !rest.is_empty() {
            return Err(SnapshotError::Decode(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        let engine = Engine::restore(snap)?;
        engine
            .check_invariants()
            .map_err(|e| SnapshotError::Invalid(e.what))?;
        if engine.encode_snapshot() != bytes {
            return Err(SnapshotError::Invalid("not in canonical form".into()));
        }
        Ok(engine)
    }

    fn restore(snap: Snapshot) -> Result<Engine, SnapshotError> {
        let invalid = |what: &str| SnapshotError::Invalid(what.to_string());
        let mut e = Engine::new();
        e.last_seq = snap.last_seq;
        e.next_order_id = snap.next_order_id;
        e.next_trade_id = snap.next_trade_id;
        e.safeguard_share_bps = snap.safeguard_share_bps;
        e.global_halted = snap.global_halted;
        for asset in snap.assets {
            e.assets.push(asset);
            e.ledger.add_asset();
        }
        for (a, accounts) in snap.system.iter().enumerate() {
            let asset = AssetId(u16::try_from(a).map_err(|_| invalid("too many system rows"))?);
            e.asset_exists(asset)
                .map_err(|_| invalid("system row of unknown asset"))?;
            for (account, balance) in Ledger::system_accounts().into_iter().zip(accounts) {
                e.ledger.restore_system(asset, account, *balance);
            }
        }
        for user in snap.users {
            let slot = e.user_slot(user.id);
            for (asset, available, held) in user.balances {
                e.asset_exists(asset)
                    .map_err(|_| invalid("balance of unknown asset"))?;
                e.ledger
                    .restore_user(slot, asset, Balance { available, held });
            }
        }
        for (i, m) in snap.markets.into_iter().enumerate() {
            let id = MarketId(u32::try_from(i).map_err(|_| invalid("too many markets"))?);
            e.restore_market(id, m)?;
        }
        for (id, user, asset, amount) in snap.withdrawals {
            e.withdrawals.insert(
                id,
                WithdrawalHold {
                    user,
                    asset,
                    amount,
                },
            );
        }
        e.withdrawal_ids.extend(snap.withdrawal_ids);
        for t in snap.triggers {
            e.restore_trigger(t)?;
        }
        e.deposit_refs.extend(snap.deposit_refs);
        e.payout_claims.extend(snap.payout_claims);
        for (seq, id, outcome) in snap.idempotency {
            e.window.insert(id, seq, outcome);
        }
        Ok(e)
    }

    fn restore_market(&mut self, id: MarketId, m: SnapMarket) -> Result<(), SnapshotError> {
        let params = self
            .derive_params(&m.spec)
            .and_then(|p| Engine::check_market_limits(&m.spec, &p).map(|()| p))
            .map_err(|r| SnapshotError::Invalid(r.to_string()))?;
        let mut market = Market::new(m.spec, m.halted, params);
        market.last_price_ticks = m.last_price_ticks;
        self.markets.push(market);
        for (side, orders) in [(Side::Buy, m.bids), (Side::Sell, m.asks)] {
            for o in orders {
                let slot = self
                    .ledger
                    .slot(o.user)
                    .ok_or_else(|| SnapshotError::Invalid("order of unknown user".into()))?;
                let remaining = o.size_lots - o.filled_lots;
                let spec = self.markets.last().map(|m| &m.spec);
                let valid = spec.is_some_and(|spec| {
                    (1..=spec.max_price_ticks).contains(&o.price_ticks)
                        && (1..=spec.max_size_lots).contains(&o.size_lots)
                }) && remaining > 0
                    && o.filled_lots >= 0
                    && o.id.0 < self.next_order_id
                    && !self.orders.contains_key(&o.id.0);
                if !valid {
                    return Err(SnapshotError::Invalid(format!(
                        "bad resting order {:?}",
                        o.id
                    )));
                }
                let order = LiveOrder {
                    id: o.id,
                    user: o.user,
                    slot,
                    market: id,
                    side,
                    kind: o.kind,
                    price_ticks: o.price_ticks,
                    size_lots: o.size_lots,
                    notional: o.notional,
                    filled_lots: o.filled_lots,
                    filled_quote: o.filled_quote,
                    fee_paid: o.fee_paid,
                    client_order_id: o.client_order_id,
                    stp: o.stp,
                    created_ms: o.created_ms,
                    updated_ms: o.updated_ms,
                    user_pos: 0,
                };
                self.insert_live(order)
                    .map_err(|e| SnapshotError::Invalid(e.to_string()))?;
            }
        }
        Ok(())
    }

    fn restore_trigger(&mut self, t: SnapTrigger) -> Result<(), SnapshotError> {
        let invalid = || SnapshotError::Invalid(format!("bad stop order {:?}", t.id));
        let market = self
            .markets
            .get(t.order.market.0 as usize)
            .ok_or_else(invalid)?;
        let (_, _, _, hold_asset, hold_units) =
            order_amounts(&market.spec, &market.params, &t.order).map_err(|_| invalid())?;
        let fresh = t.id.0 < self.next_order_id
            && !self.orders.contains_key(&t.id.0)
            && !self.triggers.contains_key(&t.id.0)
            && (1..=market.spec.max_price_ticks).contains(&t.trigger_price_ticks);
        let slot = self.ledger.slot(t.order.user).filter(|_| fresh);
        let Some(slot) = slot else {
            return Err(invalid());
        };
        self.insert_trigger(Trigger {
            id: t.id,
            slot,
            order: t.order,
            trigger_price_ticks: t.trigger_price_ticks,
            direction: t.direction,
            hold_asset,
            hold_units,
            created_ms: t.created_ms,
        });
        Ok(())
    }
}
