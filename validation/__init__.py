"""Validation against external references, importable by the tests and by ``bench/``.

=========================  ======================================================================
:mod:`.keraal`             BlazePose pelvis and trunk angles against optical motion capture
                           (KERAAL); the tables of docs/validation.md (``python -m bench keraal``)
:mod:`.keraal_sources`     the same KERAAL trials through other skeletons (AlphaPose, OpenPose,
                           Kinect v2)
:mod:`.multiview`          view and facing against the four-camera pose2sim reference
:mod:`.mobilised`          wearable gait against the Mobilise-D reference recordings
:mod:`.docblocks`          the generated blocks of docs/validation.md: write, check, compare
=========================  ======================================================================

They read the recordings in ``tests/fixtures`` of a source checkout.
"""
