// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.hardware;

public interface SensorEventListener {
    void onSensorChanged(SensorEvent event);
    void onAccuracyChanged(Sensor sensor, int accuracy);
}
