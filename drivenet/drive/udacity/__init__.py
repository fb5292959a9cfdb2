"""Drive the Udacity simulator: its telemetry in, the model's steering and a PI throttle out.

`telemetry` reads one message, `throttle` holds the speed, `recorder` writes the run as a recording,
`status` counts and shows it, `pilot` ties these to a model, and `server` (the only module that needs the
`sim` extra) speaks the simulator's Socket.IO protocol.
"""
