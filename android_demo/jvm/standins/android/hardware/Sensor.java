// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.hardware;

public final class Sensor {
    public static final int TYPE_ACCELEROMETER = 1;
    public static final int TYPE_GYROSCOPE = 4;
    private Sensor() {}
    public int getType() { throw new UnsupportedOperationException("stand-in"); }
    public String getName() { throw new UnsupportedOperationException("stand-in"); }
}
