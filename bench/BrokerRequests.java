// Counts the broker has kept since it started, read over JMX through the attach API (no port,
// nothing to configure on the broker): requests by type, and the JVM's garbage collections.
// Run by bench/idle.py as `java bench/BrokerRequests.java <broker pid>`; prints `name count`.
import com.sun.tools.attach.VirtualMachine;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class BrokerRequests {
    public static void main(String[] args) throws Exception {
        VirtualMachine vm = VirtualMachine.attach(args[0]);
        String url = vm.startLocalManagementAgent();
        vm.detach();
        try (JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL(url))) {
            MBeanServerConnection server = connector.getMBeanServerConnection();
            ObjectName requests = new ObjectName(
                "kafka.network:type=RequestMetrics,name=RequestsPerSec,*");
            for (ObjectName name : server.queryNames(requests, null)) {
                System.out.println("request." + name.getKeyProperty("request") + " "
                    + server.getAttribute(name, "Count"));
            }
            ObjectName gcs = new ObjectName("java.lang:type=GarbageCollector,*");
            for (ObjectName name : server.queryNames(gcs, null)) {
                String gc = name.getKeyProperty("name").replace(' ', '_');
                System.out.println("gc." + gc + ".count " + server.getAttribute(name, "CollectionCount"));
                System.out.println("gc." + gc + ".ms " + server.getAttribute(name, "CollectionTime"));
            }
        }
    }
}
