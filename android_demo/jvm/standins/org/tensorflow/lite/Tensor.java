// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package org.tensorflow.lite;

import java.nio.ByteBuffer;

public interface Tensor {
    DataType dataType();
    int numDimensions();
    int numBytes();
    int numElements();
    int[] shape();
    int[] shapeSignature();
    int index();
    String name();
    QuantizationParams quantizationParams();
    ByteBuffer asReadOnlyBuffer();

    class QuantizationParams {
        public QuantizationParams(float scale, int zeroPoint) { throw new UnsupportedOperationException("stand-in"); }
        public float getScale() { throw new UnsupportedOperationException("stand-in"); }
        public int getZeroPoint() { throw new UnsupportedOperationException("stand-in"); }
    }
}
