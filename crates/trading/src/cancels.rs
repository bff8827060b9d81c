//! Cancelling one order or one stop order (or everything of a user in a market), and saying
//! why a cancel found nothing to cancel: the engine only knows live orders, so when it answers
//! "not found" the read models tell an order that finished (filled, cancelled, a stop order that
//! fired) from one that never was the caller's.

use bulwark_engine::{Command, MarketId, OrderTarget, Reject};
use bulwark_store::{StoreError, order_state, trigger_state};
use bulwark_types::UserId;

use crate::Trading;
use crate::writes::SubmitFailure;

/// Why a cancel did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum CancelRefused {
    #[error("no such order of yours")]
    Unknown,
    #[error("the order is already cancelled")]
    AlreadyCanceled,
    #[error("the order is already filled")]
    AlreadyFilled,
    #[error("the stop order already fired")]
    AlreadyFired,
    #[error("the order is not in a cancellable state")]
    NotCancellable,
    #[error("the engine refused: {0}")]
    Rejected(Reject),
    #[error("{0}")]
    Submit(#[from] SubmitFailure),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The read-model id of an engine order id (ids beyond `i64` match no row).
fn row_id(id: &bulwark_types::OrderId) -> i64 {
    i64::try_from(id.0).unwrap_or(-1)
}

impl Trading {
    /// Cancels every stop order and then every open order of `user` in `market`. Stop orders go
    /// first, so none can fire in between and leave a live order behind.
    pub async fn cancel_everything(
        &self,
        user: UserId,
        market: MarketId,
    ) -> Result<(), CancelRefused> {
        for command in [
            Command::CancelAllTriggers {
                user,
                market: Some(market),
            },
            Command::CancelAll {
                user,
                market: Some(market),
                side: None,
            },
        ] {
            if let Err(reject) = self.submit(command).await?.outcome {
                return Err(CancelRefused::Rejected(reject));
            }
        }
        Ok(())
    }

    /// Cancels the caller's live order `target`.
    pub async fn cancel_order(
        &self,
        user: UserId,
        target: OrderTarget,
    ) -> Result<(), CancelRefused> {
        let command = Command::CancelOrder {
            user,
            target: target.clone(),
        };
        match self.submit(command).await?.outcome {
            Ok(_) => Ok(()),
            Err(Reject::OrderNotFound) => {
                let user_id = i64::try_from(user.0).unwrap_or(-1);
                let row = match &target {
                    OrderTarget::Id(id) => self.own_order(user_id, row_id(id)).await?,
                    OrderTarget::Client(client) => {
                        self.own_order_by_client_id(user_id, client.as_str())
                            .await?
                    }
                };
                Err(match row.as_ref().map(|r| r.state.as_str()) {
                    None => CancelRefused::Unknown,
                    Some(order_state::FILLED) => CancelRefused::AlreadyFilled,
                    Some(order_state::CANCELED | order_state::PARTIALLY_CANCELED) => {
                        CancelRefused::AlreadyCanceled
                    }
                    Some(_) => CancelRefused::NotCancellable,
                })
            }
            Err(reject) => Err(CancelRefused::Rejected(reject)),
        }
    }

    /// Cancels the caller's waiting stop order `target`.
    pub async fn cancel_trigger(
        &self,
        user: UserId,
        target: OrderTarget,
    ) -> Result<(), CancelRefused> {
        let command = Command::CancelTrigger {
            user,
            target: target.clone(),
        };
        match self.submit(command).await?.outcome {
            Ok(_) => Ok(()),
            Err(Reject::TriggerNotFound) => {
                let user_id = i64::try_from(user.0).unwrap_or(-1);
                let row = match &target {
                    OrderTarget::Id(id) => self.own_trigger(user_id, row_id(id)).await?,
                    OrderTarget::Client(client) => {
                        self.own_trigger_by_client_id(user_id, client.as_str())
                            .await?
                    }
                };
                Err(match row.as_ref().map(|r| r.state.as_str()) {
                    None => CancelRefused::Unknown,
                    Some(trigger_state::CANCELED) => CancelRefused::AlreadyCanceled,
                    Some(_) => CancelRefused::AlreadyFired,
                })
            }
            Err(reject) => Err(CancelRefused::Rejected(reject)),
        }
    }
}
