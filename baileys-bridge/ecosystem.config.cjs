// PM2: pm2 start ecosystem.config.cjs  (set the env in the shell or an env file first)
module.exports = {
  apps: [{
    name: 'baileys-bridge',
    script: 'src/main.js',
    cwd: __dirname,
    instances: 1, // never more: one process per WhatsApp auth (the state dir is locked)
    exec_mode: 'fork',
    autorestart: true,
    min_uptime: '10s',
    max_restarts: 50,
    exp_backoff_restart_delay: 1000,
    kill_timeout: 12000, // the bridge stops within 10 s of SIGTERM
    stop_exit_codes: [78], // bad config: restarting will not help
    out_file: './logs/bridge.out.log',
    error_file: './logs/bridge.err.log',
    merge_logs: true,
    time: false, // pino already writes JSON with a timestamp
    env: { NODE_ENV: 'production', BRIDGE_STATE_DIR: './state' },
  }],
};
