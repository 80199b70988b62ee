"""Simulation: the Lava runner, the bit-exact batched emulator and their parity report."""
