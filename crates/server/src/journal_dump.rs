//! `bulwark journal dump`: the journal's records as an operator reads them (read-only): seq,
//! time, command kind, command id and, for a command an HTTP request made, that request's id
//! (the `X-Request-Id` it was answered with and the `id` of its log lines). `--request-id`
//! picks out the commands of one request.

use std::path::Path;

use anyhow::Context;
use bulwark_engine::{COMMAND_KINDS, codec};
use bulwark_journal::JournalError;
use serde_json::json;

/// Why the replay stopped early.
enum Stop {
    Journal(JournalError),
    Enough,
}

impl From<JournalError> for Stop {
    fn from(error: JournalError) -> Stop {
        Stop::Journal(error)
    }
}

pub struct DumpArgs<'a> {
    pub data_dir: &'a Path,
    pub from: u64,
    pub limit: usize,
    pub request_id: Option<&'a str>,
    pub json: bool,
}

pub fn run(args: &DumpArgs<'_>) -> anyhow::Result<()> {
    let wanted = match args.request_id.map(str::trim) {
        Some(text) if text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(u64::from_str_radix(text, 16)?)
        }
        Some(_) => anyhow::bail!("--request-id is the 16 hex digits of an X-Request-Id"),
        None => None,
    };
    if args.limit == 0 {
        return Ok(());
    }
    let journal_dir = args.data_dir.join("journal");
    let mut shown = 0_usize;
    let outcome = bulwark_journal::replay(&journal_dir, args.from.max(1), |seq, payload| {
        let (header, command) = match codec::decode_command(payload) {
            Ok(decoded) => decoded,
            Err(error) => {
                if args.json {
                    println!("{}", json!({"seq": seq, "error": error.to_string()}));
                } else {
                    println!("{seq} does not decode: {error}");
                }
                return Ok(());
            }
        };
        let request = bulwark_trading::request_id::request_of(&header.id);
        if wanted.is_some() && request != wanted {
            return Ok(());
        }
        let kind = COMMAND_KINDS
            .get(command.kind_index())
            .copied()
            .unwrap_or("unknown");
        let request_hex = request.map(|r| format!("{r:016x}"));
        if args.json {
            println!(
                "{}",
                json!({"seq": seq, "timestamp_ms": header.timestamp_ms, "kind": kind,
                       "command_id": hex::encode(header.id.0), "request_id": request_hex})
            );
        } else {
            println!(
                "{seq} {} {kind} {}{}",
                header.timestamp_ms,
                hex::encode(header.id.0),
                request_hex.map_or_else(String::new, |r| format!(" request {r}"))
            );
        }
        shown += 1;
        if shown >= args.limit {
            return Err(Stop::Enough);
        }
        Ok(())
    });
    match outcome {
        Ok(stats) => {
            if let Some(torn) = stats.torn_tail {
                eprintln!(
                    "the journal ends in a torn record at {} offset {} (the next start truncates it)",
                    torn.file.display(),
                    torn.offset
                );
            }
            Ok(())
        }
        Err(Stop::Enough) => Ok(()),
        Err(Stop::Journal(error)) => {
            Err(error).with_context(|| format!("reading {}", journal_dir.display()))
        }
    }
}
