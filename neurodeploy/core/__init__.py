"""The core: what every other layer stands on, importable with neither Lava nor training code.

Errors, atomic writes, YAML and schema checks, configs and the manifest, netx files
(read, write, the blocks netx builds and their timing in depth, the weights Lava loads),
inputs, encodings and their frame schedule, data sets, results, the decision rule,
progress and runtime policy. Modules here import only each other (and numpy, torch for
the encoders, h5py for netx files).
"""
