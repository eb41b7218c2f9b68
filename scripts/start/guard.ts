// Preloaded (`node --import`) into every process `npm start` runs: when the supervisor goes away in
// any way (even SIGKILL), the pipe on our stdin reaches end-of-file and this process shuts down
// gracefully through its own SIGTERM handler, so nothing is left running.
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
// Not a reason to stay alive: the service's own handles keep it running.
(process.stdin as unknown as { unref?: () => void }).unref?.();
