//! `testworld serve`: runs the fake DNS and RDAP servers as a process, for end-to-end tests that
//! start Dovecot and the daemon as processes.
//!
//! This binary owns only the command line: it loads a world (`--spec FILE` or `--contract`),
//! starts both fakes on 127.0.0.1, prints one JSON line
//! `{"dns":"127.0.0.1:PORT","rdap":"http://127.0.0.1:PORT/"}` on stdout when they are ready, and
//! runs until SIGTERM, SIGINT or end of standard input (unless `--ignore-stdin`).

use std::path::PathBuf;
use std::process::ExitCode;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};

use testworld::{contract_world, World};

const USAGE: &str = "usage: testworld serve (--spec FILE | --contract) [--ignore-stdin]
       testworld dump-contract        print the contract world as a spec (JSON)

serve prints {\"dns\":\"127.0.0.1:PORT\",\"rdap\":\"http://127.0.0.1:PORT/\"} when ready and runs
until SIGTERM, SIGINT, or end of standard input (unless --ignore-stdin).";

enum Source {
    Spec(PathBuf),
    Contract,
}

struct ServeArgs {
    source: Source,
    watch_stdin: bool,
}

enum Command {
    Serve(ServeArgs),
    DumpContract,
    Help,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("missing command".to_owned());
    };
    match command.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "dump-contract" => match rest {
            [] => Ok(Command::DumpContract),
            _ => Err("dump-contract takes no arguments".to_owned()),
        },
        "serve" => {
            let mut source = None;
            let mut watch_stdin = true;
            let mut it = rest.iter();
            while let Some(arg) = it.next() {
                match arg.as_str() {
                    "--spec" => {
                        let path = it.next().ok_or("--spec needs a file")?;
                        source = Some(Source::Spec(PathBuf::from(path)));
                    }
                    "--contract" => source = Some(Source::Contract),
                    "--ignore-stdin" => watch_stdin = false,
                    other => return Err(format!("unknown argument {other:?}")),
                }
            }
            let source = source.ok_or("serve needs --spec FILE or --contract")?;
            Ok(Command::Serve(ServeArgs {
                source,
                watch_stdin,
            }))
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::DumpContract) => match contract_world().to_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("testworld: {err}");
                ExitCode::FAILURE
            }
        },
        Ok(Command::Serve(serve_args)) => match serve(serve_args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("testworld: {err}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("testworld: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let world = match &args.source {
        Source::Spec(path) => World::from_file(path)?,
        Source::Contract => contract_world(),
    };
    let running = world.start().await?;
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(format!("{}\n", running.ready_line()).as_bytes())
        .await?;
    stdout.flush().await?;

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let stdin_closed = async {
        if !args.watch_stdin {
            return std::future::pending::<()>().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 1024];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        () = stdin_closed => {}
    }
    drop(running);
    Ok(())
}
