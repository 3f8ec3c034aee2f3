// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.hardware;

import android.os.Handler;

public abstract class SensorManager {
    public static final float STANDARD_GRAVITY = 9.80665f;
    public static final int SENSOR_DELAY_GAME = 1;
    public Sensor getDefaultSensor(int type) { throw new UnsupportedOperationException("stand-in"); }
    public boolean registerListener(SensorEventListener listener, Sensor sensor, int samplingPeriodUs, Handler handler) { throw new UnsupportedOperationException("stand-in"); }
    public void unregisterListener(SensorEventListener listener) { throw new UnsupportedOperationException("stand-in"); }
}
