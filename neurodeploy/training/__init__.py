"""Training with lava-dl SLAYER: the network from a config, the fused CUBA neuron, the
training loop and its checkpoints, DA-SSDP, torchrun DDP and export to netx.

Needs the ``[lava]`` extra (lava-dl); stands on the core, never on a backend or the app.
"""
