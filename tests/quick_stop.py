"""How long a test lets a stopping server's connections close before it looks again (uvicorn waits 0.1 s).

A test stops three or four servers (the bot and the stand-ins it talks to); at uvicorn's pace that alone took over
half a second a test, a few minutes over the suite. The wait is still a wait: a stopping server still lets every
open connection finish and runs its lifespan shutdown.
"""

QUICK_STOP = 0.01
