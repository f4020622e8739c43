namespace Recorder.Video.Tests;
