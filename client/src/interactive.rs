//! The interactive prompt: read a line (line editor, history, completion),
//! run it, report a failure and carry on. Ctrl-C at the prompt clears the
//! line; during a command it cancels it (see `interrupt`), and the session
//! reconnects. A connection lost during a command is also re-established
//! once, with the kept keys, so the next command works; a server that then
//! refuses the login (account disabled or changed, throttled) ends the
//! session instead of being asked again.

use crate::editor::{LineEditor, Read};
use crate::interrupt::Interrupts;
use crate::shell::{Flow, Shell, split};
use crate::{bang, format};
use mioftp_client::{Client, ClientError, Result};

/// Runs the prompt until `exit` or Ctrl-D.
pub fn run(client: Client) -> Result<()> {
    println!("Logged in as {}. Type 'help' for commands.", client.user().unwrap_or("?"));
    let mut editor = LineEditor::new().map_err(|e| ClientError::Usage(format!("no line editor: {e}")))?;
    let interrupts = Interrupts::install()?;
    let mut shell = Shell::new(client);
    shell.interactive = true;
    loop {
        let prompt = format!("mioftp {}:{}> ", shell.client.user().unwrap_or("?"), shell.client.cwd());
        let (back, read) = editor.read(&prompt, shell);
        shell = back;
        let line = match read.map_err(|e| ClientError::Usage(format!("cannot read the command line: {e}")))? {
            Read::Line(line) => line,
            Read::Cleared => continue,
            Read::End => {
                println!();
                break;
            }
        };
        editor.remember(&line);
        // A local command needs no connection, and Ctrl-C is its own
        // business (it gets the signal too): nothing is armed.
        if let Some(command) = bang::command(&line) {
            if let Err(e) = bang::run(command) {
                eprintln!("error: {e}");
            }
            continue;
        }
        let words = match split(&line) {
            Ok(words) => words,
            Err(e) => {
                eprintln!("error: {}", format::name(&e.to_string()));
                continue;
            }
        };
        // Revived before arming, so Ctrl-C cuts the connection the command
        // will really use.
        let result = shell.revive().and_then(|()| {
            interrupts.arm(shell.client.conn.cancel_handle().ok());
            shell.run(&words)
        });
        let cancelled = interrupts.disarm();
        match result {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit) => break,
            Err(_) if cancelled => {
                eprintln!("cancelled; what was transferred is kept, and the same command resumes from there");
                recover(&mut shell, "cancelled")?;
            }
            // A refusal leaves the session usable.
            Err(e) if !e.is_fatal() => eprintln!("error: {}", format::name(&e.to_string())),
            Err(e) => {
                eprintln!("error: {}", format::name(&e.to_string()));
                recover(&mut shell, "the connection was lost")?;
            }
        }
    }
    // The server may have dropped us while we waited at the prompt; leaving
    // needs no new connection.
    if shell.client.peer_closed() {
        return Ok(());
    }
    shell.finish()
}

/// After a cut connection: one reconnect. If it fails, the session ends
/// with that error (a refusal is not retried with the same keys).
fn recover(shell: &mut Shell, why: &str) -> Result<()> {
    if !shell.client.can_reconnect() {
        return Err(ClientError::Usage("the connection is gone and this session cannot reconnect".into()));
    }
    shell.reconnect(why)
}
