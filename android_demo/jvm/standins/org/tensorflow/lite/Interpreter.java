// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package org.tensorflow.lite;

import java.io.File;
import java.nio.ByteBuffer;

public final class Interpreter implements InterpreterApi {
    public static class Options {
        public Options() {}
        public Options setNumThreads(int numThreads) { throw new UnsupportedOperationException("stand-in"); }
        public Options setUseXNNPACK(boolean useXNNPACK) { throw new UnsupportedOperationException("stand-in"); }
    }

    public Interpreter(File modelFile) { throw new UnsupportedOperationException("stand-in"); }
    public Interpreter(File modelFile, Options options) { throw new UnsupportedOperationException("stand-in"); }
    public Interpreter(ByteBuffer byteBuffer) { throw new UnsupportedOperationException("stand-in"); }
    public Interpreter(ByteBuffer byteBuffer, Options options) { throw new UnsupportedOperationException("stand-in"); }
    @Override public void run(Object input, Object output) { throw new UnsupportedOperationException("stand-in"); }
    @Override public Tensor getInputTensor(int inputIndex) { throw new UnsupportedOperationException("stand-in"); }
    @Override public Tensor getOutputTensor(int outputIndex) { throw new UnsupportedOperationException("stand-in"); }
    @Override public int getInputTensorCount() { throw new UnsupportedOperationException("stand-in"); }
    @Override public int getOutputTensorCount() { throw new UnsupportedOperationException("stand-in"); }
    @Override public void close() { throw new UnsupportedOperationException("stand-in"); }
}
