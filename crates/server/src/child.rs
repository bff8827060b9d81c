//! `bulwark serve` as a child process of this same binary, for the programs that drive a real
//! exchange from outside (the fire drill, the restart benchmark): a crash is then a real process
//! dying, and a start really reads the data directory back.

use std::path::Path;
use std::process::Command;

/// The command line of `bulwark serve` over `dir` on the given listeners. It takes nothing from
/// this process's environment: a `BULWARK_CONFIG` or `BULWARK_DATABASE_URL` there would point
/// the child at an operator's live configuration or database.
pub fn serve_command(dir: &Path, http_addr: &str, admin_addr: &str) -> std::io::Result<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BULWARK_") {
            command.env_remove(name);
        }
    }
    command.arg("serve").arg("--data-dir").arg(dir).args([
        "--http-addr",
        http_addr,
        "--admin-addr",
        admin_addr,
    ]);
    Ok(command)
}

/// A loopback port free at the moment of asking, for a child's listener.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
