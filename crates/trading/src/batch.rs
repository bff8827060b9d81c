//! Batches of orders: up to ten placements or cancels in one request. Each order is still its
//! own engine command, journaled and acknowledged like a single one; the batch saves round trips
//! and fixes one rule: placing stops at the first order the engine refuses, so the caller knows
//! exactly which orders rest on the book, and a cancel only touches the caller's own orders in
//! the batch's market.

use bulwark_engine::{Accepted, Command, OrderTarget, Reject};
use bulwark_types::{OrderId, UserId};

use crate::Trading;
use crate::writes::SubmitFailure;

/// What placing a batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchPlaced {
    /// Every order was accepted, in the order given.
    All(Vec<OrderId>),
    /// The order at `index` was refused; `placed` were accepted before it and the rest never sent.
    Stopped {
        index: usize,
        reject: Reject,
        placed: Vec<OrderId>,
    },
}

/// Why a batch could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum BatchFailure {
    #[error("{0}")]
    Submit(#[from] SubmitFailure),
    #[error("store: {0}")]
    Store(#[from] bulwark_store::StoreError),
    #[error("the engine answered a placement with {0:?}")]
    Unexpected(Accepted),
    /// The order at `index` is outside the price band: nothing of the batch was placed.
    #[error("order {index} is outside the price band")]
    Band {
        index: usize,
        band: crate::band::OutsideBand,
    },
}

impl Trading {
    /// Places `orders` (each a `PlaceOrder` command) one after another; answers once the last
    /// one is durable (reads then wait for the read models to include it).
    /// The whole batch is checked against the price band before anything is placed.
    pub async fn place_batch(&self, orders: Vec<Command>) -> Result<BatchPlaced, BatchFailure> {
        for (index, command) in orders.iter().enumerate() {
            self.check_band(command)
                .map_err(|band| BatchFailure::Band { index, band })?;
        }
        let mut placed = Vec::with_capacity(orders.len());
        let mut outcome = None;
        for (index, command) in orders.into_iter().enumerate() {
            let receipt = self.submit_checked(command).await?;
            match receipt.outcome {
                Ok(Accepted::Order { id }) => placed.push(id),
                Ok(other) => return Err(BatchFailure::Unexpected(other)),
                Err(reject) => {
                    outcome = Some((index, reject));
                    break;
                }
            }
        }
        Ok(match outcome {
            None => BatchPlaced::All(placed),
            Some((index, reject)) => BatchPlaced::Stopped {
                index,
                reject,
                placed,
            },
        })
    }

    /// Cancels each of `targets` that is the user's own order in `symbol`; answers, in the order
    /// given, whether each was cancelled (unknown, foreign, finished or other-market orders fail
    /// alone and change nothing).
    pub async fn cancel_batch(
        &self,
        user: UserId,
        symbol: &str,
        targets: Vec<OrderTarget>,
    ) -> Result<Vec<bool>, BatchFailure> {
        let user_id = i64::try_from(user.0).unwrap_or(-1);
        let mut cancelled = Vec::with_capacity(targets.len());
        for target in targets {
            let row = match &target {
                OrderTarget::Id(id) => {
                    self.own_order(user_id, i64::try_from(id.0).unwrap_or(-1))
                        .await?
                }
                OrderTarget::Client(client) => {
                    self.own_order_by_client_id(user_id, client.as_str())
                        .await?
                }
            };
            if row.is_none_or(|order| order.symbol != symbol) {
                cancelled.push(false);
                continue;
            }
            let receipt = self.submit(Command::CancelOrder { user, target }).await?;
            cancelled.push(receipt.outcome.is_ok());
        }
        Ok(cancelled)
    }
}
