//! The journal payload of one command: postcard of `(CommandHeader, Command)`.
//!
//! postcard is compact (varints, no field names) and deterministic: the same command always
//! encodes to the same bytes, which the journal's checksums and replay tests rely on.

use thiserror::Error;

use crate::command::{Command, CommandHeader};

/// Why bytes are not a command.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CodecError {
    #[error("malformed command: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes after the command")]
    TrailingBytes(usize),
}

/// Appends the encoding of a command to `buf` (not cleared), so the journal can reuse one
/// buffer for a whole batch.
pub fn encode_command_into(header: &CommandHeader, command: &Command, buf: &mut Vec<u8>) {
    let written = postcard::to_io(&(header, command), &mut *buf);
    // Writing to a Vec cannot fail and every field of a command has a known length, so an
    // error here means the serialisation code itself is broken: stop rather than journal junk.
    assert!(
        written.is_ok(),
        "command encoding failed: {:?}",
        written.err()
    );
}

/// The encoding of a command in a fresh buffer.
pub fn encode_command(header: &CommandHeader, command: &Command) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    encode_command_into(header, command, &mut buf);
    buf
}

/// Decodes exactly one command; trailing bytes are an error.
pub fn decode_command(bytes: &[u8]) -> Result<(CommandHeader, Command), CodecError> {
    let (decoded, rest) = postcard::take_from_bytes::<(CommandHeader, Command)>(bytes)
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes(rest.len()));
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use bulwark_types::{CommandId, OrderId, Side, UserId};

    use super::*;
    use crate::command::{NewOrder, OrderKind, OrderTarget, StpMode};
    use crate::spec::MarketId;

    #[test]
    fn round_trips_and_rejects_junk() {
        let header = CommandHeader {
            seq: 7,
            timestamp_ms: 1_700_000_000_000,
            id: CommandId([3; 16]),
        };
        let commands = [
            Command::PlaceOrder(NewOrder {
                user: UserId(9),
                market: MarketId(1),
                side: Side::Buy,
                kind: OrderKind::Limit,
                price_ticks: 300_000,
                size_lots: 12,
                notional: 0,
                client_order_id: Some("abc1".parse().unwrap()),
                stp: StpMode::DEFAULT,
            }),
            Command::CancelOrder {
                user: UserId(9),
                target: OrderTarget::Id(OrderId(4)),
            },
            Command::Halt { market: None },
        ];
        let mut batch = Vec::new();
        for command in &commands {
            let bytes = encode_command(&header, command);
            assert_eq!(decode_command(&bytes).unwrap(), (header, command.clone()));
            let mut extra = bytes.clone();
            extra.push(0);
            assert_eq!(decode_command(&extra), Err(CodecError::TrailingBytes(1)));
            assert!(decode_command(&bytes[..bytes.len() - 1]).is_err());
            encode_command_into(&header, command, &mut batch);
        }
        assert!(batch.len() > 10);
        assert!(decode_command(&[]).is_err());
    }
}
