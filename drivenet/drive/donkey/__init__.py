"""Drive the Donkey simulator (sdsandbox, as gym-donkeycar talks to it) as its TCP client.

`protocol` frames and reads the simulator's newline-separated JSON messages and writes drivenet's; `client`
runs the loop: connect, choose the scene, and answer each telemetry message with one control, steered by
the Udacity bridge's `Pilot` (model, speed controller, recorder and counts are the same).
"""
