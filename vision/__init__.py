"""Media in, landmarks out; never imports :mod:`service`.

Import from the modules (this index imports nothing, so no media library loads until needed):

==================  ===========================================================================
``_sniff``          what a file or upload is, by its first bytes (video, image, landmark JSON)
``decode``          :class:`~vision.decode.VideoReader`, the one decoder: upright RGB frames on the
                    container's clock, from the start or from a start time; ``read_image``
``backends``        pose models (ONNX, MediaPipe) behind :class:`~vision.backends.base.PoseBackend`;
                    ``load_backend`` by manifest name
``models``          the model manifest (sha256, licence, origin)
``tracking``        follow one subject among several people
``extract``         decode, pose and follow: an :class:`~vision.extract.Extraction` of a video or image
``parallel``        the same extraction on several processes, in time chunks
``landmark_json``   landmark files in and out
==================  ===========================================================================
"""
