//! The `ringmq` binary: one executable, several roles chosen by subcommand or by the name it
//! was invoked under (`mqnamesrv`, `mqbroker`, `mqadmin`, `mqshutdown`).

#![forbid(unsafe_code)]

fn main() {
    eprintln!("ringmq: no subcommands are wired yet");
    std::process::exit(2);
}
