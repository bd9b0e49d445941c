'use strict';
// Simulated Hermes chat tab (hermes-top test double). Starts tui_gateway.entry and
// relays the dashboard's requests to it and its replies back.
const { spawn } = require('child_process');
const fs = require('fs');

if (process.env.HERMES_SIM_EXIT_AT_ONCE === '1') process.exit(0);
if (process.env.HERMES_SIM_TTY) {
  // As a session leader, opening the PTY makes it our controlling tty.
  try { fs.openSync(process.env.HERMES_SIM_TTY, 'r+'); } catch (e) { /* no tty: fine */ }
}

const [ownerPid, ownerSt] = (process.env.HERMES_SIM_OWNER || '').split(':');
if (ownerPid && fs.existsSync('/proc/self')) {
  // Safety net: exit once the simulation's owner is gone. One FD stays open on its
  // /proc stat file (reads fail with ESRCH after it exits): no transient FDs.
  const buf = Buffer.alloc(4096);
  let ownerFd;
  try {
    ownerFd = fs.openSync(`/proc/${ownerPid}/stat`, 'r');
    const stat = buf.toString('latin1', 0, fs.readSync(ownerFd, buf, 0, 4096, 0));
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    if (ownerSt && start !== ownerSt) process.exit(0);
  } catch (e) {
    process.exit(0);
  }
  setInterval(() => {
    try {
      fs.readSync(ownerFd, buf, 0, 4096, 0);
    } catch (e) {
      if (e.code === 'ESRCH') process.exit(0);
    }
  }, 2000).unref();
}

const entry = spawn(process.env.HERMES_PYTHON, ['-m', 'tui_gateway.entry'], {
  cwd: process.env.HERMES_CWD,
  stdio: ['pipe', 'pipe', 'pipe'],
});
entry.on('error', (err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err) }) + '\n');
  process.exit(1);
});
process.stdout.on('error', () => {});
entry.stdin.on('error', () => {});
entry.stdout.pipe(process.stdout);
entry.stderr.pipe(process.stderr);
process.stdin.pipe(entry.stdin);
entry.on('close', (code) => process.exit(code === null ? 1 : code));
