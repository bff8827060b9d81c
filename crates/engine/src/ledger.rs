//! Double-entry ledger: every balance change is a transfer between two accounts of one asset.
//!
//! Accounts per asset: each user's `available` and `held`, and the system accounts
//! [`SystemAccount`]. A transfer subtracts from one and adds the same amount to the other, so
//! per asset all accounts always sum to zero. Users, `FeeRevenue` and `Safeguard` never go
//! negative; `External` and `Adjustments` are contra accounts and may.
//!
//! Overflow is ruled out structurally: money only enters the internal (non-contra) accounts
//! from a contra account, and such a transfer is refused when the internal total would exceed
//! `i64::MAX`. Since internal accounts are non-negative, no internal account can then overflow,
//! so a matched trade (many transfers) can never fail half way.
//!
//! Users are addressed by a dense `u32` slot (assigned on first credit, never reused) so the
//! hot path indexes vectors instead of hashing. Every transfer records the accounts it touched;
//! [`Ledger::finish_command`] turns them into absolute balance events and checks the command.

use bulwark_types::UserId;
use rustc_hash::FxHashMap;
use thiserror::Error;

use crate::event::{Event, SystemAccount};
use crate::invariant::InvariantError;
use crate::spec::AssetId;

/// A user's balance of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Free to trade or withdraw.
    pub available: i64,
    /// Reserved by live orders and pending withdrawals.
    pub held: i64,
}

/// One side of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Account {
    /// A user's available balance, by slot.
    Available(u32),
    /// A user's held balance, by slot.
    Held(u32),
    System(SystemAccount),
}

impl Account {
    /// Contra accounts may be negative; they are where money enters and leaves the system.
    fn is_contra(self) -> bool {
        matches!(
            self,
            Account::System(SystemAccount::External | SystemAccount::Adjustments)
        )
    }
}

/// Why a transfer was refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum LedgerError {
    #[error("insufficient balance: {available} available")]
    Insufficient { available: i64 },
    #[error("amount would overflow")]
    Overflow,
    #[error("unknown asset or user slot")]
    UnknownAccount,
    #[error("transfer amount is negative")]
    NegativeAmount,
}

/// Totals of one asset over every account; `sum` is zero when the ledger is consistent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetTotals {
    pub asset: AssetId,
    pub users_available: i128,
    pub users_held: i128,
    pub fee_revenue: i128,
    pub safeguard: i128,
    pub external: i128,
    pub adjustments: i128,
    pub sum: i128,
}

const SYSTEM_ACCOUNTS: [SystemAccount; 4] = [
    SystemAccount::FeeRevenue,
    SystemAccount::Safeguard,
    SystemAccount::External,
    SystemAccount::Adjustments,
];

fn system_index(account: SystemAccount) -> usize {
    match account {
        SystemAccount::FeeRevenue => 0,
        SystemAccount::Safeguard => 1,
        SystemAccount::External => 2,
        SystemAccount::Adjustments => 3,
    }
}

/// One side's proceeds of a fill for [`Ledger::must_pay`]: `payer`'s hold pays the receiver,
/// fee revenue and the Safeguard fund.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Payment {
    pub(crate) payer: u32,
    pub(crate) receiver: u32,
    pub(crate) to_receiver: i64,
    pub(crate) to_revenue: i64,
    pub(crate) to_fund: i64,
}

/// One user account pair of one asset, with the mark of the last command that touched it.
#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    balance: Balance,
    mark: u32,
}

/// The system accounts of one asset, indexed by `system_index`.
#[derive(Clone, Copy, Debug, Default)]
struct SystemRow {
    balances: [i64; 4],
    marks: [u32; 4],
}

#[derive(Clone, Copy, Debug)]
struct TouchedUser {
    user: UserId,
    asset: AssetId,
    /// Index into `Ledger::cells`.
    cell: usize,
    before: Balance,
}

#[derive(Clone, Copy, Debug)]
struct TouchedSystem {
    asset: AssetId,
    account: SystemAccount,
    before: i64,
}

/// The ledger. See the module documentation.
///
/// Each account carries the mark (a per-command counter) of the last command that touched it,
/// so the first touch in a command records the balance before it, once, without searching.
#[derive(Clone, Debug)]
pub struct Ledger {
    slots: FxHashMap<UserId, u32>,
    /// The user of each slot.
    ids: Vec<UserId>,
    /// Every user's accounts in one vector, slot-major: slot `s` and asset `a` at
    /// `s * asset_count + a`, so reaching an account is a multiply-add and one bounds check.
    cells: Vec<Cell>,
    system: Vec<SystemRow>,
    touched_users: Vec<TouchedUser>,
    touched_system: Vec<TouchedSystem>,
    /// Sort keys of `touched_users` (see `sort_touched_users`), reused between commands.
    order: Vec<u128>,
    /// Mark of the current command; never 0, so fresh accounts count as untouched.
    mark: u32,
    net: Vec<(AssetId, i128)>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            slots: FxHashMap::default(),
            ids: Vec::new(),
            cells: Vec::new(),
            system: Vec::new(),
            touched_users: Vec::new(),
            touched_system: Vec::new(),
            order: Vec::new(),
            mark: 1,
            net: Vec::new(),
        }
    }
}

impl Ledger {
    /// An empty ledger with no assets.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Opens the system accounts of the next asset (ids are dense, in order of addition). Every
    /// user gets an empty account pair for it, which re-lays the user accounts out (a
    /// configuration step, O(users * assets)).
    pub fn add_asset(&mut self) {
        let old = self.system.len();
        self.system.push(SystemRow::default());
        if old == 0 {
            self.cells = vec![Cell::default(); self.ids.len()];
            return;
        }
        let mut cells = Vec::with_capacity(self.ids.len() * (old + 1));
        for user in self.cells.chunks_exact(old) {
            cells.extend_from_slice(user);
            cells.push(Cell::default());
        }
        self.cells = cells;
        for t in &mut self.touched_users {
            t.cell += t.cell / old;
        }
    }

    /// Number of assets known.
    pub fn asset_count(&self) -> usize {
        self.system.len()
    }

    /// The slot of a user who has ever been credited.
    pub fn slot(&self, user: UserId) -> Option<u32> {
        self.slots.get(&user).copied()
    }

    /// The slot of a user, creating the user's (empty) accounts if needed.
    pub fn slot_or_insert(&mut self, user: UserId) -> u32 {
        if let Some(&slot) = self.slots.get(&user) {
            return slot;
        }
        let slot = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        assert!(slot != u32::MAX, "user slots exhausted");
        self.ids.push(user);
        let cells = self.cells.len() + self.system.len();
        self.cells.resize(cells, Cell::default());
        self.slots.insert(user, slot);
        slot
    }

    /// Number of user slots (users ever credited).
    pub fn user_count(&self) -> usize {
        self.ids.len()
    }

    /// The user behind a slot.
    pub fn user_id(&self, slot: u32) -> Option<UserId> {
        self.ids.get(slot as usize).copied()
    }

    /// Every user id, sorted.
    pub fn user_ids(&self) -> Vec<UserId> {
        let mut ids = self.ids.clone();
        ids.sort_unstable();
        ids
    }

    /// Where the account pair of `slot` in `asset` is in `cells`.
    fn cell_index(&self, slot: u32, asset: AssetId) -> Option<usize> {
        let a = usize::from(asset.0);
        let assets = self.system.len();
        if a >= assets {
            return None;
        }
        let i = (slot as usize).checked_mul(assets)?.checked_add(a)?;
        (i < self.cells.len()).then_some(i)
    }

    /// A user's accounts in every asset, by asset id.
    fn user_cells(&self, slot: u32) -> &[Cell] {
        let assets = self.system.len();
        let start = (slot as usize).saturating_mul(assets);
        self.cells
            .get(start..start.saturating_add(assets))
            .unwrap_or_default()
    }

    /// A user's balance by slot (zero when unknown).
    pub fn balance(&self, slot: u32, asset: AssetId) -> Balance {
        self.cell_index(slot, asset)
            .and_then(|i| self.cells.get(i))
            .map(|c| c.balance)
            .unwrap_or_default()
    }

    /// A user's balance by id (zero when unknown).
    pub fn balance_of(&self, user: UserId, asset: AssetId) -> Balance {
        self.slot(user)
            .map(|s| self.balance(s, asset))
            .unwrap_or_default()
    }

    /// Non-zero balances of a user, by asset id.
    pub fn user_balances(&self, slot: u32) -> Vec<(AssetId, Balance)> {
        self.user_cells(slot)
            .iter()
            .enumerate()
            .filter(|(_, c)| c.balance != Balance::default())
            .filter_map(|(i, c)| Some((AssetId(u16::try_from(i).ok()?), c.balance)))
            .collect()
    }

    /// Balance of a system account (zero for an unknown asset).
    pub fn system_balance(&self, asset: AssetId, account: SystemAccount) -> i64 {
        self.system
            .get(usize::from(asset.0))
            .and_then(|row| row.balances.get(system_index(account)))
            .copied()
            .unwrap_or(0)
    }

    fn read(&self, asset: AssetId, account: Account) -> Result<i64, LedgerError> {
        match account {
            Account::Available(slot) | Account::Held(slot) => {
                let cell = self
                    .cell_index(slot, asset)
                    .and_then(|i| self.cells.get(i))
                    .ok_or(LedgerError::UnknownAccount)?;
                Ok(if matches!(account, Account::Held(_)) {
                    cell.balance.held
                } else {
                    cell.balance.available
                })
            }
            Account::System(s) => self
                .system
                .get(usize::from(asset.0))
                .and_then(|row| row.balances.get(system_index(s)))
                .copied()
                .ok_or(LedgerError::UnknownAccount),
        }
    }

    /// The account pair of `slot` in `asset`, for writing: the command's first touch of it
    /// records its balance before the command. Only call it to write.
    fn user_cell(&mut self, slot: u32, asset: AssetId) -> Option<&mut Balance> {
        let i = self.cell_index(slot, asset)?;
        let user = self.ids.get(slot as usize).copied()?;
        let cell = self.cells.get_mut(i)?;
        if cell.mark != self.mark {
            cell.mark = self.mark;
            self.touched_users.push(TouchedUser {
                user,
                asset,
                cell: i,
                before: cell.balance,
            });
        }
        Some(&mut cell.balance)
    }

    /// A system account, for writing; see [`Ledger::user_cell`].
    fn system_cell(&mut self, asset: AssetId, account: SystemAccount) -> Option<&mut i64> {
        let i = system_index(account);
        let row = self.system.get_mut(usize::from(asset.0))?;
        let (balance, mark) = (row.balances.get_mut(i)?, row.marks.get_mut(i)?);
        if *mark != self.mark {
            *mark = self.mark;
            self.touched_system.push(TouchedSystem {
                asset,
                account,
                before: *balance,
            });
        }
        Some(balance)
    }

    /// Sets an account (touching it).
    fn write(&mut self, asset: AssetId, account: Account, value: i64) {
        let target = match account {
            Account::Available(slot) => self.user_cell(slot, asset).map(|b| &mut b.available),
            Account::Held(slot) => self.user_cell(slot, asset).map(|b| &mut b.held),
            Account::System(s) => self.system_cell(asset, s),
        };
        if let Some(target) = target {
            *target = value;
        }
    }

    /// Checks a transfer without doing it: `Ok` means [`Ledger::transfer`] will succeed.
    pub fn check_transfer(
        &self,
        asset: AssetId,
        from: Account,
        to: Account,
        amount: i64,
    ) -> Result<(), LedgerError> {
        if amount < 0 {
            return Err(LedgerError::NegativeAmount);
        }
        let from_before = self.read(asset, from)?;
        let to_before = self.read(asset, to)?;
        if amount == 0 || from == to {
            return Ok(());
        }
        self.check_amounts(asset, from, from_before, to_before, to.is_contra(), amount)
    }

    /// Checks crediting `amount` from `from` to a user that has no accounts yet (whose balance
    /// is zero), so a refused credit does not have to create the user first.
    pub fn check_credit_new_user(
        &self,
        asset: AssetId,
        from: Account,
        amount: i64,
    ) -> Result<(), LedgerError> {
        if amount < 0 {
            return Err(LedgerError::NegativeAmount);
        }
        let from_before = self.read(asset, from)?;
        if amount == 0 {
            return Ok(());
        }
        self.check_amounts(asset, from, from_before, 0, false, amount)
    }

    fn check_amounts(
        &self,
        asset: AssetId,
        from: Account,
        from_before: i64,
        to_before: i64,
        to_is_contra: bool,
        amount: i64,
    ) -> Result<(), LedgerError> {
        let from_after = from_before
            .checked_sub(amount)
            .ok_or(LedgerError::Overflow)?;
        if from_after < 0 && !from.is_contra() {
            return Err(LedgerError::Insufficient {
                available: from_before,
            });
        }
        to_before.checked_add(amount).ok_or(LedgerError::Overflow)?;
        if from.is_contra() && !to_is_contra {
            let contra = i128::from(self.system_balance(asset, SystemAccount::External))
                + i128::from(self.system_balance(asset, SystemAccount::Adjustments));
            if -contra + i128::from(amount) > i128::from(i64::MAX) {
                return Err(LedgerError::Overflow);
            }
        }
        Ok(())
    }

    /// Moves `amount` from one account to another of the same asset. Atomic: on error nothing
    /// changed. Zero amounts and self-transfers are no-ops.
    pub fn transfer(
        &mut self,
        asset: AssetId,
        from: Account,
        to: Account,
        amount: i64,
    ) -> Result<(), LedgerError> {
        if amount < 0 {
            return Err(LedgerError::NegativeAmount);
        }
        let from_before = self.read(asset, from)?;
        let to_before = self.read(asset, to)?;
        if amount == 0 || from == to {
            return Ok(());
        }
        self.check_amounts(asset, from, from_before, to_before, to.is_contra(), amount)?;
        self.write(asset, from, from_before - amount);
        self.write(asset, to, to_before + amount);
        Ok(())
    }

    /// A transfer that cannot fail unless the engine's own bookkeeping is broken (for example
    /// releasing a hold the engine itself recorded). A failure here would leave a command half
    /// applied, so it crashes instead.
    pub fn must_transfer(&mut self, asset: AssetId, from: Account, to: Account, amount: i64) {
        let result = self.transfer(asset, from, to, amount);
        assert!(
            result.is_ok(),
            "ledger invariant broken: {from:?} -> {to:?} {amount} of {asset:?}: {result:?}"
        );
    }

    /// [`Ledger::must_transfer`] between a user's own available and held balances (`to_held`
    /// says which way): what every order's hold and release is, so it gets a path that
    /// reaches the account pair once.
    pub(crate) fn must_shift(&mut self, asset: AssetId, slot: u32, amount: i64, to_held: bool) {
        if amount == 0 {
            return;
        }
        let balance = self.user_cell(slot, asset);
        let shifted = balance.and_then(|b| {
            let (from, to) = if to_held {
                (&mut b.available, &mut b.held)
            } else {
                (&mut b.held, &mut b.available)
            };
            let from_after = from.checked_sub(amount).filter(|&after| after >= 0)?;
            let to_after = to.checked_add(amount).filter(|_| amount > 0)?;
            *from = from_after;
            *to = to_after;
            Some(())
        });
        assert!(
            shifted.is_some(),
            "ledger invariant broken: shift {amount} of {asset:?} at slot {slot} (to held: {to_held})"
        );
    }

    /// What [`Ledger::must_split`] does for one side of a fill (`Held(payer)` to
    /// `Available(receiver)`, `FeeRevenue` and `Safeguard`), reaching each account once.
    /// Crashes like `must_split` if the payer's hold is short or a credit overflows.
    pub(crate) fn must_pay(&mut self, asset: AssetId, p: &Payment) {
        let total = [p.to_receiver, p.to_revenue, p.to_fund]
            .into_iter()
            .try_fold(0_i64, |sum, part| {
                sum.checked_add(part).filter(|_| part >= 0)
            });
        assert!(
            total.is_some(),
            "ledger invariant broken: bad payment {p:?} of {asset:?}"
        );
        let Some(total) = total.filter(|&t| t > 0) else {
            return;
        };
        let paid = self.user_cell(p.payer, asset).and_then(|b| {
            b.held = b.held.checked_sub(total).filter(|held| *held >= 0)?;
            Some(())
        });
        assert!(
            paid.is_some(),
            "ledger invariant broken: pay {total} of {asset:?} from slot {}",
            p.payer
        );
        self.credit_user(p.receiver, asset, p.to_receiver);
        self.credit_system(asset, SystemAccount::FeeRevenue, p.to_revenue);
        self.credit_system(asset, SystemAccount::Safeguard, p.to_fund);
    }

    /// Adds to a user's available balance money that just left an internal account.
    fn credit_user(&mut self, slot: u32, asset: AssetId, amount: i64) {
        if amount == 0 {
            return;
        }
        let credited = self.user_cell(slot, asset).and_then(|b| {
            b.available = b.available.checked_add(amount)?;
            Some(())
        });
        assert!(
            credited.is_some(),
            "ledger invariant broken: credit {amount} of {asset:?} to slot {slot}"
        );
    }

    /// Adds to a system account money that just left an internal account.
    fn credit_system(&mut self, asset: AssetId, account: SystemAccount, amount: i64) {
        if amount == 0 {
            return;
        }
        let credited = self.system_cell(asset, account).and_then(|b| {
            *b = b.checked_add(amount)?;
            Some(())
        });
        assert!(
            credited.is_some(),
            "ledger invariant broken: credit {amount} of {asset:?} to {account:?}"
        );
    }

    /// Moves `parts` (destination, amount) out of one internal account in one step: what a
    /// fill does with each side's proceeds (to the receiver, to revenue, to the fund). Like
    /// [`Ledger::must_transfer`] it cannot fail unless the engine's bookkeeping is broken, and
    /// then it crashes. Money leaves an internal account here, so no credit can overflow (see
    /// the module documentation).
    pub fn must_split(&mut self, asset: AssetId, from: Account, parts: [(Account, i64); 3]) {
        assert!(!from.is_contra(), "split from a contra account {from:?}");
        let total = parts.iter().try_fold(0_i64, |sum, &(_, amount)| {
            if amount < 0 {
                None
            } else {
                sum.checked_add(amount)
            }
        });
        let from_before = self.read(asset, from);
        let from_after = match (from_before, total) {
            (Ok(before), Some(total)) => before.checked_sub(total).filter(|after| *after >= 0),
            _ => None,
        };
        assert!(
            from_after.is_some(),
            "ledger invariant broken: split {total:?} of {asset:?} from {from:?} ({from_before:?})"
        );
        let (Some(from_after), Some(total)) = (from_after, total) else {
            return;
        };
        if total == 0 {
            return;
        }
        self.write(asset, from, from_after);
        for (to, amount) in parts {
            if amount == 0 {
                continue;
            }
            let to_after = self
                .read(asset, to)
                .ok()
                .and_then(|before| before.checked_add(amount));
            assert!(
                to_after.is_some() && to != from,
                "ledger invariant broken: split to {to:?} of {asset:?}"
            );
            self.write(asset, to, to_after.unwrap_or(0));
        }
    }

    /// Whether the current command has changed anything yet.
    pub fn untouched(&self) -> bool {
        self.touched_users.is_empty() && self.touched_system.is_empty()
    }

    /// Ends a command: appends one absolute `Balance` event per (user, asset) touched, sorted by
    /// user then asset, then one `System` event per (asset, account) touched, sorted. Asserts
    /// that every touched internal account is non-negative and that the command's changes sum
    /// to zero per asset; either failing means the ledger code itself is wrong.
    pub fn finish_command(&mut self, events: &mut Vec<Event>) {
        self.sort_touched_users();
        self.touched_system
            .sort_unstable_by_key(|t| (t.asset, t.account));
        self.net.clear();
        events.reserve(self.touched_users.len() + self.touched_system.len());
        for &key in &self.order {
            let Some(t) = self.touched_users.get(key as u32 as usize) else {
                continue;
            };
            let now = self
                .cells
                .get(t.cell)
                .map(|c| c.balance)
                .unwrap_or_default();
            assert!(
                now.available >= 0 && now.held >= 0,
                "negative balance of {:?} in {:?}",
                t.user,
                t.asset
            );
            let delta = i128::from(now.available) + i128::from(now.held)
                - i128::from(t.before.available)
                - i128::from(t.before.held);
            add_net(&mut self.net, t.asset, delta);
            events.push(Event::Balance {
                user: t.user,
                asset: t.asset,
                available: now.available,
                held: now.held,
            });
        }
        for t in &self.touched_system {
            let now = self.system_balance(t.asset, t.account);
            let contra = matches!(
                t.account,
                SystemAccount::External | SystemAccount::Adjustments
            );
            assert!(
                contra || now >= 0,
                "negative {:?} of {:?}",
                t.account,
                t.asset
            );
            add_net(
                &mut self.net,
                t.asset,
                i128::from(now) - i128::from(t.before),
            );
            events.push(Event::System {
                asset: t.asset,
                account: t.account,
                balance: now,
            });
        }
        assert!(
            self.net.iter().all(|&(_, d)| d == 0),
            "command transfers do not net to zero: {:?}",
            self.net
        );
        self.touched_users.clear();
        self.touched_system.clear();
        self.next_mark();
    }

    /// Fills `order` with one key per touched user account, sorted by (user, asset): the user
    /// and asset in the high bits, the position in `touched_users` in the low 32. Sorting
    /// these 16-byte keys instead of the 40-byte records keeps a fill-heavy command cheap.
    fn sort_touched_users(&mut self) {
        self.order.clear();
        if self.touched_users.len() == 1 {
            self.order.push(0);
            return;
        }
        self.order
            .extend((0_u32..).zip(&self.touched_users).map(|(i, t)| {
                (u128::from(t.user.0) << 64) | (u128::from(t.asset.0) << 32) | u128::from(i)
            }));
        self.order.sort_unstable();
    }

    /// Moves to the next command's mark; on wrap-around clears every mark so no stale mark can
    /// equal a new one.
    fn next_mark(&mut self) {
        self.mark = self.mark.wrapping_add(1);
        if self.mark == 0 {
            self.cells.iter_mut().for_each(|c| c.mark = 0);
            for row in &mut self.system {
                row.marks = [0; 4];
            }
            self.mark = 1;
        }
    }

    /// Per-asset totals over every account.
    pub fn totals(&self) -> Vec<AssetTotals> {
        (0..self.system.len())
            .filter_map(|i| {
                let asset = AssetId(u16::try_from(i).ok()?);
                let (mut available, mut held) = (0_i128, 0_i128);
                for slot in 0..u32::try_from(self.ids.len()).ok()? {
                    let b = self.balance(slot, asset);
                    available += i128::from(b.available);
                    held += i128::from(b.held);
                }
                let sys = |a| i128::from(self.system_balance(asset, a));
                let (fee, fund) = (
                    sys(SystemAccount::FeeRevenue),
                    sys(SystemAccount::Safeguard),
                );
                let (external, adjustments) = (
                    sys(SystemAccount::External),
                    sys(SystemAccount::Adjustments),
                );
                Some(AssetTotals {
                    asset,
                    users_available: available,
                    users_held: held,
                    fee_revenue: fee,
                    safeguard: fund,
                    external,
                    adjustments,
                    sum: available + held + fee + fund + external + adjustments,
                })
            })
            .collect()
    }

    /// Full check: per-asset sums are zero, no internal account is negative, and the internal
    /// total fits the overflow bound.
    pub fn check(&self) -> Result<(), InvariantError> {
        for t in self.totals() {
            if t.sum != 0 {
                return Err(InvariantError::new(format!(
                    "asset {:?} sums to {}",
                    t.asset, t.sum
                )));
            }
            if t.fee_revenue < 0 || t.safeguard < 0 {
                return Err(InvariantError::new(format!(
                    "negative system account in {:?}",
                    t.asset
                )));
            }
            if t.users_available + t.users_held + t.fee_revenue + t.safeguard > i128::from(i64::MAX)
            {
                return Err(InvariantError::new(format!(
                    "internal total of {:?} exceeds i64",
                    t.asset
                )));
            }
        }
        if self.cells.len() != self.ids.len() * self.system.len() {
            return Err(InvariantError::new("user accounts miss assets".into()));
        }
        for (slot, &id) in (0_u32..).zip(&self.ids) {
            if self
                .user_cells(slot)
                .iter()
                .any(|c| c.balance.available < 0 || c.balance.held < 0)
            {
                return Err(InvariantError::new(format!("negative balance of {id:?}")));
            }
            if self.slots.get(&id) != Some(&slot) {
                return Err(InvariantError::new(format!("slot index broken for {id:?}")));
            }
        }
        Ok(())
    }

    /// Sets a balance directly, bypassing double entry. Only for rebuilding from a snapshot,
    /// which is checked as a whole afterwards.
    pub(crate) fn restore_user(&mut self, slot: u32, asset: AssetId, balance: Balance) {
        if let Some(cell) = self
            .cell_index(slot, asset)
            .and_then(|i| self.cells.get_mut(i))
        {
            cell.balance = balance;
        }
    }

    /// Sets a system balance directly; see [`Ledger::restore_user`].
    pub(crate) fn restore_system(&mut self, asset: AssetId, account: SystemAccount, balance: i64) {
        if let Some(cell) = self
            .system
            .get_mut(usize::from(asset.0))
            .and_then(|row| row.balances.get_mut(system_index(account)))
        {
            *cell = balance;
        }
    }

    /// The system accounts in their canonical order.
    pub fn system_accounts() -> [SystemAccount; 4] {
        SYSTEM_ACCOUNTS
    }
}

fn add_net(net: &mut Vec<(AssetId, i128)>, asset: AssetId, delta: i128) {
    match net.iter_mut().find(|(a, _)| *a == asset) {
        Some((_, d)) => *d += delta,
        None => net.push((asset, delta)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    fn ledger() -> (Ledger, u32, u32) {
        let mut l = Ledger::new();
        l.add_asset();
        let a = l.slot_or_insert(UserId(7));
        let b = l.slot_or_insert(UserId(3));
        (l, a, b)
    }

    #[test]
    fn transfers_balance_and_emit_sorted_events() {
        let (mut l, a, b) = ledger();
        let asset = AssetId(0);
        l.transfer(
            asset,
            Account::System(SystemAccount::External),
            Account::Available(a),
            100,
        )
        .unwrap();
        l.transfer(asset, Account::Available(a), Account::Held(a), 30)
            .unwrap();
        l.transfer(asset, Account::Held(a), Account::Available(b), 30)
            .unwrap();
        let mut events = Vec::new();
        l.finish_command(&mut events);
        assert_eq!(
            events,
            vec![
                Event::Balance {
                    user: UserId(3),
                    asset,
                    available: 30,
                    held: 0
                },
                Event::Balance {
                    user: UserId(7),
                    asset,
                    available: 70,
                    held: 0
                },
                Event::System {
                    asset,
                    account: SystemAccount::External,
                    balance: -100
                },
            ]
        );
        l.check().unwrap();
        assert_eq!(l.totals()[0].sum, 0);
    }

    #[test]
    fn refuses_negative_and_overflow_without_change() {
        let (mut l, a, b) = ledger();
        let asset = AssetId(0);
        let ext = Account::System(SystemAccount::External);
        assert_eq!(
            l.transfer(asset, Account::Available(a), Account::Available(b), 1),
            Err(LedgerError::Insufficient { available: 0 })
        );
        l.transfer(asset, ext, Account::Available(a), i64::MAX)
            .unwrap();
        assert_eq!(
            l.transfer(asset, ext, Account::Available(b), 1),
            Err(LedgerError::Overflow)
        );
        assert_eq!(
            l.transfer(
                asset,
                Account::System(SystemAccount::Adjustments),
                Account::Available(b),
                1
            ),
            Err(LedgerError::Overflow)
        );
        assert!(l.untouched() || l.balance(b, asset) == Balance::default());
        l.check().unwrap();
    }

    #[test]
    fn adding_an_asset_keeps_every_balance_and_pending_touch() {
        let (mut l, a, b) = ledger();
        let ext = Account::System(SystemAccount::External);
        l.transfer(AssetId(0), ext, Account::Available(a), 50)
            .unwrap();
        l.transfer(AssetId(0), ext, Account::Available(b), 20)
            .unwrap();
        l.add_asset();
        l.transfer(AssetId(1), ext, Account::Available(b), 9)
            .unwrap();
        l.must_shift(AssetId(0), b, 5, true);
        l.add_asset();
        let mut events = Vec::new();
        l.finish_command(&mut events);
        let balances: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Balance {
                    user,
                    asset,
                    available,
                    held,
                } => Some((user.0, asset.0, *available, *held)),
                _ => None,
            })
            .collect();
        assert_eq!(balances, vec![(3, 0, 15, 5), (3, 1, 9, 0), (7, 0, 50, 0)]);
        assert_eq!(l.balance(a, AssetId(2)), Balance::default());
        assert_eq!(l.user_balances(b).len(), 2);
        l.check().unwrap();
    }

    #[test]
    fn shifts_between_available_and_held_touch_once_and_skip_zero() {
        let (mut l, a, _) = ledger();
        let ext = Account::System(SystemAccount::External);
        l.transfer(AssetId(0), ext, Account::Available(a), 10)
            .unwrap();
        l.finish_command(&mut Vec::new());
        l.must_shift(AssetId(0), a, 0, true);
        assert!(l.untouched());
        l.must_shift(AssetId(0), a, 10, true);
        l.must_shift(AssetId(0), a, 4, false);
        let mut events = Vec::new();
        l.finish_command(&mut events);
        assert_eq!(
            events,
            vec![Event::Balance {
                user: UserId(7),
                asset: AssetId(0),
                available: 4,
                held: 6
            }]
        );
    }

    #[test]
    #[should_panic(expected = "ledger invariant broken")]
    fn a_shift_beyond_the_balance_crashes() {
        let (mut l, a, _) = ledger();
        l.must_shift(AssetId(0), a, 1, false);
    }

    #[test]
    fn a_payment_matches_the_split_it_stands_for() {
        let ext = Account::System(SystemAccount::External);
        let run = |pay: bool| {
            let (mut l, a, b) = ledger();
            l.transfer(AssetId(0), ext, Account::Available(a), 100)
                .unwrap();
            l.must_shift(AssetId(0), a, 100, true);
            l.finish_command(&mut Vec::new());
            for (receiver, parts) in [(b, [60, 3, 1]), (a, [30, 0, 0]), (b, [0, 0, 0])] {
                if pay {
                    let p = Payment {
                        payer: a,
                        receiver,
                        to_receiver: parts[0],
                        to_revenue: parts[1],
                        to_fund: parts[2],
                    };
                    l.must_pay(AssetId(0), &p);
                } else {
                    let accounts = [
                        Account::Available(receiver),
                        Account::System(SystemAccount::FeeRevenue),
                        Account::System(SystemAccount::Safeguard),
                    ];
                    let split = [0, 1, 2].map(|i| (accounts[i], parts[i]));
                    l.must_split(AssetId(0), Account::Held(a), split);
                }
            }
            let mut events = Vec::new();
            l.finish_command(&mut events);
            l.check().unwrap();
            events
        };
        assert_eq!(run(true), run(false));
        assert_eq!(run(true).len(), 4);
    }
}
