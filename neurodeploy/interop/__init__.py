"""NIR interoperability: NIR graphs in and out of netx, and a float reference to check them.

NIR graphs are continuous-time; netx files are Loihi's integers. Both meet in
:class:`neurodeploy.interop.layers.FloatLayer`, the discrete-time float form of one netx
block at a stated ``dt``: NIR is mapped to it (:mod:`.nir_import`), it is quantised to and
de-quantised from netx (:mod:`.quantise`), mapped back to NIR (:mod:`.nir_export`) and
simulated in float (:mod:`.reference`) against the bit-exact emulator (:mod:`.fidelity`).
"""
