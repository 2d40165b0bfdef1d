"""cs231n.classifiers for a submission that brings its classifier files but not the package's
__init__ (the course's imports every classifier, some of which a submission leaves out)."""
