"""The core: what every other layer stands on, importable with neither Lava nor training code.

Errors, atomic writes, YAML and schema checks, configs and the manifest, netx files
(read, write, the blocks netx builds and their timing in depth, the weights Lava loads),
inputs, encodings and their frame schedule, data sets, results (and their figure, through
the one atomic figure writer), the decision rule, progress, runtime policy and which extra
installs which optional package. Modules here import only each other (and numpy, torch for
the encoders, h5py for netx files).
"""
