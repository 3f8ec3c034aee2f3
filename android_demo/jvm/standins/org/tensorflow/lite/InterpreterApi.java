// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package org.tensorflow.lite;

public interface InterpreterApi extends AutoCloseable {
    void run(Object input, Object output);
    Tensor getInputTensor(int inputIndex);
    Tensor getOutputTensor(int outputIndex);
    int getInputTensorCount();
    int getOutputTensorCount();
    @Override void close();
}
