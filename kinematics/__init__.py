"""The measurement core: from landmark sequences to angles, events and clinical answers.

Pure numpy/scipy; it imports nothing else of the project (``tests/kinematics/test_kinematics_import_boundary.py``).
Import from the modules (this index imports nothing, so ``import kinematics.errors`` stays light):

========================  =========================================================================
``series``                :class:`~kinematics.series.LandmarkSeries`, :class:`~kinematics.series.Series`,
                          landmark schemas (BlazePose 33)
``schemas``               other skeletons laid onto the core's landmark names
``filtering``             gap filling and the zero-phase low-pass
``facing``                body yaw from several cues, smoothed by a yaw HMM
``view``                  frontal / sagittal / oblique view, per sample and per recording
``angles``                pelvic obliquity, hip flexion and abduction, trunk lean, hip centres
``summary``               summary metrics of an angle series
``pipeline``              :class:`~kinematics.pipeline.KinematicsPipeline`: every step above, in order
``plausibility``          the gate that withholds angles no body can produce
``withheld``              why each withheld angle sample is not measured: one code, one reason
``protocols``             one protocol per exercise (``PROTOCOLS``, ``PROTOCOL_NAMES``): presence gate,
                          events, metrics with confidence, findings against sourced thresholds
``streaming``             live measurement: the pipeline and protocol over a sliding window,
                          causal EMG onsets and pelvis angles
``exercises``             the therapy catalogue (``EXERCISES``) and suggestions from findings
``outcomes``              Oswestry and pain NRS scoring, change against MCID/MDC
``signature``             the motion signature per session and its distances
``fusion``                wearable sensors: IMU and EMG, sync and fusion with video, gait
``synth``                 synthetic poses with known angles (tests)
``errors``                the domain errors the service maps to HTTP statuses
========================  =========================================================================
"""
