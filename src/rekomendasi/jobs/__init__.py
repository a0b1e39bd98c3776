"""Jobs: what each command of the CLI runs, with its inputs resolved from ``Settings``. The CLI maps
options to these calls and prints what they return; it holds no logic of its own."""
