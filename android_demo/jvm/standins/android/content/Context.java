// STAND-IN for compile checks only (android_demo/jvm/README.md): same public signatures as the
// real class, written from its documentation; every body throws. Never packaged into the app.
package android.content;

import android.content.res.AssetManager;

public abstract class Context {
    public static final int MODE_PRIVATE = 0;
    public static final String SENSOR_SERVICE = "sensor";

    public abstract AssetManager getAssets();
    public abstract SharedPreferences getSharedPreferences(String name, int mode);
    public abstract Object getSystemService(String name);
    public final String getString(int resId) { throw new UnsupportedOperationException("stand-in"); }
}
