"""Gymnasium's CarRacing-v3: a world drivenet did not build, and an expert that reads its privileged state.

`env.make_env` imports gymnasium only when called (the `gym` extra); `expert.Expert` needs numpy only. `drive`
(rollout.py) scores a policy, the expert or a `ModelPilot` (pilot.py), by the env's own reward;
`record_episodes` (record.py) writes episodes as drivenet recordings labelled by the expert; `run_dagger`
and `learn` (dagger.py) train a model by behavioural cloning and DAgger rounds in a resumable run folder.
"""

# Nothing is imported here: `env` (no numpy) serves the CLI's option defaults, and spawned workers that
# only drive need not import the trainer that `dagger` brings.
